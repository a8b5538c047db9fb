"""The library's generic input checks: one module, one error family (the ground floor).

The course's rule is *check once, at the door*: a public entry point checks its arguments
with these helpers; code inside the library then trusts its own objects (a ``Batch``, an
encoder dictionary, a list of frames) and checks nothing again. Checks on tensors read
metadata only (rank, dtype, device, shape); a check that must read tensor values (token ids
in range, lengths) belongs at a batch's door and runs once per batch, never per step.

The error family:

* :class:`InputTypeError` -- a value of the wrong *type*. It is a ``TypeError`` and, by the
  course's rule that bad input raises ``ValueError``, a ``ValueError`` too, so
  ``except ValueError`` and ``except TypeError`` both catch it.
* ``ValueError`` -- the right type with a wrong value (out of range, empty, NaN).

Every message names the argument, says what was expected and what was given.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from numbers import Integral, Real
from typing import Any, Optional, Sequence

import numpy as np

__all__ = [
    "InputTypeError",
    "require",
    "check_int",
    "check_real",
    "check_flag",
    "check_text",
    "check_texts",
    "check_tokens",
    "check_items",
    "check_instance",
    "check_choice",
    "check_tensor",
]


class InputTypeError(TypeError, ValueError):
    """A wrong type given to a public function: both a ``TypeError`` and a ``ValueError``."""


def require(ok: Any, message: str, error: type = ValueError) -> None:
    """Raise ``error(message)`` unless ``ok``: the one-line form of a check at a public door.

    Raises:
        ``error`` (``ValueError`` by default) with ``message`` when ``ok`` is falsy.
    """
    if not ok:
        raise error(message)


def _type_error(name: str, expected: str, value: Any, allow_none: bool = False) -> InputTypeError:
    expected += " or None" if allow_none else ""
    return InputTypeError(f"{name} must be {expected}, got {value!r:.60} ({type(value).__name__})")


def _span(low: Any, high: Any) -> str:
    return f"at least {low}" if high is None else f"at most {high}" if low is None else f"between {low} and {high}"


def check_int(value: Any, name: str, low: Optional[int] = None, high: Optional[int] = None,
              allow_none: bool = False) -> Optional[int]:
    """``value`` as an ``int`` in ``[low, high]``; NumPy integers pass, bools and floats do not.

    Raises:
        InputTypeError: not an integer (``2.0`` and ``True`` are refused).
        ValueError: below ``low`` or above ``high``.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise _type_error(name, "an integer" + (f" >= {low}" if low is not None else ""), value, allow_none)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be {_span(low, high)}, got {int(value)}" + " (None: no limit)" * allow_none)
    return int(value)


def check_real(value: Any, name: str, low: Optional[float] = None, high: Optional[float] = None,
               low_open: bool = False, high_open: bool = False, allow_none: bool = False) -> Optional[float]:
    """``value`` as a finite ``float`` in the interval given by ``low``/``high`` (open ends on request).

    Raises:
        InputTypeError: not a real number (bools and strings are refused).
        ValueError: NaN, infinite, or outside the interval.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, Real):
        raise _type_error(name, "a number", value, allow_none)
    v = float(value)
    if not (math.isfinite(v) and (low is None or (v > low if low_open else v >= low))
            and (high is None or (v < high if high_open else v <= high))):
        raise ValueError(f"{name} must be finite and in {_interval(low, high, low_open, high_open)}, got {value!r}")
    return v


def _interval(low: Optional[float], high: Optional[float], low_open: bool, high_open: bool) -> str:
    return (("(-inf" if low is None else f"({low:g}" if low_open else f"[{low:g}") + ", "
            + ("inf)" if high is None else f"{high:g})" if high_open else f"{high:g}]"))


def check_flag(value: Any, name: str) -> bool:
    """``value`` as a ``bool`` (a NumPy bool passes); ``"no"``, ``0`` or ``None`` are refused.

    Raises:
        InputTypeError: not a bool.
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise _type_error(name, "True or False", value)


def check_text(value: Any, name: str, allow_none: bool = False) -> Optional[str]:
    """``value`` as a ``str``; ``None`` passes when ``allow_none``.

    Raises:
        InputTypeError: anything else (convert with ``str()`` first).
    """
    if not isinstance(value, str) and not (value is None and allow_none):
        raise _type_error(name, "a str", value, allow_none)
    return value


def check_items(items: Any, name: str, what: str = "items") -> list:
    """``items`` as a list, in order; a bare str/bytes (read letter by letter), a dict, a set or a
    non-iterable is refused. ``what`` names the expected items in the message.

    Raises:
        InputTypeError: any of the refused kinds.
    """
    if isinstance(items, (str, bytes)):
        raise InputTypeError(f"{name} must be a list of {what}, got a single {type(items).__name__}: wrap it in a "
                             f"list ({[items]!r:.40}) or split it ({str(items).split()!r:.40})")
    if isinstance(items, (Mapping, set, frozenset)) or not isinstance(items, Iterable):
        raise InputTypeError(f"{name} must be a list of {what} in order, got a {type(items).__name__}")
    return list(items)


def _non_str_item(items: list, name: str, what: str, hint: str = "") -> Optional[str]:
    """The message naming the first item that is not a str, or None."""
    i = next((i for i, t in enumerate(items) if not isinstance(t, str)), None)
    return None if i is None else (f"{name} must hold str {what}, but item {i} is a {type(items[i]).__name__} "
                                   f"({items[i]!r:.40}){hint}")


def check_texts(texts: Any, name: str) -> list[str]:
    """``texts`` as a list of sentences (str); a bare ``str`` is refused (it would be read letter by letter).

    Raises:
        InputTypeError: a str/bytes, a dict or set, not iterable, or an item that is not a str.
    """
    texts = check_items(texts, name, "sentences (str)")
    message = _non_str_item(texts, name, "sentences")
    require(message is None, message, InputTypeError)
    return texts


def check_tokens(tokens: Any, name: str, allow_empty: bool = True) -> list[str]:
    """``tokens`` as a list of str tokens; a bare ``str`` is refused (tokenise it first).

    Raises:
        InputTypeError: a str/bytes, a dict or set, not iterable, or an item that is not a str.
        ValueError: empty, unless ``allow_empty``.
    """
    tokens = check_items(tokens, name, "tokens")
    message = _non_str_item(tokens, name, "tokens", "; pass one sentence's tokens at a time")
    require(message is None, message, InputTypeError)
    require(tokens or allow_empty, f"{name} is empty: give at least one token")
    return tokens


def check_instance(value: Any, types: type | tuple, name: str, expected: str) -> Any:
    """``value`` if it is an instance of ``types``.

    Raises:
        InputTypeError: anything else; the message says ``expected`` (e.g. ``"a str or path"``).
    """
    if not isinstance(value, types):
        raise _type_error(name, expected, value)
    return value


def check_choice(value: Any, name: str, choices: Sequence[Any]) -> Any:
    """``value`` if it is one of ``choices``.

    Raises:
        ValueError: anything else; the message lists the choices.
    """
    try:
        if value in choices:
            return value
    except TypeError:  # unhashable value against a set
        pass
    raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r:.60}")


_KINDS = {  # kind -> (what the message says, test on the dtype)
    "int": ("integers", lambda dt: not dt.is_floating_point and not dt.is_complex and str(dt) != "torch.bool"),
    "float": ("floating-point numbers", lambda dt: dt.is_floating_point),
    "bool": ("bools", lambda dt: str(dt) == "torch.bool"),
}


def check_tensor(x: Any, name: str, ndim: Optional[int | tuple[int, ...]] = None, kind: Optional[str] = None,
                 shape: Optional[Sequence[Optional[int]]] = None, device: Any = None) -> "torch.Tensor":
    """``x`` if it is a tensor of the given rank, dtype kind, shape and device (metadata only).

    Args:
        ndim: the rank, or a tuple of accepted ranks.
        kind: ``"int"``, ``"float"`` or ``"bool"``.
        shape: expected sizes; ``None`` entries match any size.
        device: the device ``x`` must be on (its type and index).

    Raises:
        InputTypeError: not a tensor, or the wrong dtype kind.
        ValueError: wrong rank, shape or device.
    """
    import torch  # here, so that importing the checks (e.g. for a command's --help) does not load torch

    if not isinstance(x, torch.Tensor):
        raise _type_error(name, "a torch.Tensor", x)
    if ndim is not None and x.dim() not in (ndim if isinstance(ndim, tuple) else (ndim,)):
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {tuple(x.shape)}")
    if kind is not None and not _KINDS[kind][1](x.dtype):
        raise InputTypeError(f"{name} must be a tensor of {_KINDS[kind][0]}, got dtype {x.dtype}")
    if shape is not None and (x.dim() != len(shape) or any(s is not None and s != n for s, n in zip(shape, x.shape))):
        want = ", ".join("*" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "")
        raise ValueError(f"{name} has shape {tuple(x.shape)}, expected ({want})")
    if device is not None and x.device != device:
        raise ValueError(f"{name} is on {x.device} but must be on {device}; move it with .to({str(device)!r})")
    return x
