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


def _type_error(name: str, expected: str, value: Any) -> InputTypeError:
    return InputTypeError(f"{name} must be {expected}, got {value!r:.60} ({type(value).__name__})")


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
        bound = f" >= {low}" if low is not None else ""
        raise _type_error(name, f"an integer{bound}" + (" or None" if allow_none else ""), value)
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        span = f"between {low} and {high}" if low is not None and high is not None else (
            f"at least {low}" if low is not None else f"at most {high}")
        hint = " (use None for no limit)" if allow_none else ""
        raise ValueError(f"{name} must be {span}, got {value}{hint}")
    return value


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
        raise _type_error(name, "a number" + (" or None" if allow_none else ""), value)
    v = float(value)
    bad = not math.isfinite(v)
    bad = bad or (low is not None and (v <= low if low_open else v < low))
    bad = bad or (high is not None and (v >= high if high_open else v > high))
    if bad:
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        left = "(" if low_open or low is None else "["
        right = ")" if high_open or high is None else "]"
        raise ValueError(f"{name} must be a finite number in {left}{lo}, {hi}{right}, got {value!r}")
    return v


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
    if value is None and allow_none:
        return None
    if not isinstance(value, str):
        raise _type_error(name, "a str" + (" or None" if allow_none else ""), value)
    return value


def check_items(items: Any, name: str, what: str = "items") -> list:
    """``items`` as a list, in order; a bare str/bytes (read letter by letter), a dict, a set or a
    non-iterable is refused. ``what`` names the expected items in the message.

    Raises:
        InputTypeError: any of the refused kinds.
    """
    if isinstance(items, (str, bytes)):
        raise InputTypeError(f"{name} must be a list of {what}, got a single {type(items).__name__} "
                             f"({items!r:.40}); wrap or split it into a list first")
    if isinstance(items, (Mapping, set, frozenset)) or not isinstance(items, Iterable):
        raise InputTypeError(f"{name} must be a list of {what} in order, got a {type(items).__name__}")
    return list(items)


def check_texts(texts: Any, name: str) -> list[str]:
    """``texts`` as a list of sentences (str); a bare ``str`` is refused (it would be read letter by letter).

    Raises:
        InputTypeError: a str/bytes, a dict or set, not iterable, or an item that is not a str.
    """
    texts = check_items(texts, name, "sentences (str)")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise InputTypeError(f"{name} must hold str sentences, but item {i} is a {type(t).__name__} ({t!r:.40})")
    return texts


def check_tokens(tokens: Any, name: str, allow_empty: bool = True) -> list[str]:
    """``tokens`` as a list of str tokens; a bare ``str`` is refused (tokenise it first).

    Raises:
        InputTypeError: a str/bytes, a dict or set, not iterable, or an item that is not a str.
        ValueError: empty, unless ``allow_empty``.
    """
    tokens = check_items(tokens, name, "str tokens")
    for i, t in enumerate(tokens):
        if not isinstance(t, str):
            raise InputTypeError(f"{name} must hold str tokens, but item {i} is a {type(t).__name__} ({t!r:.40}); "
                                 "pass one sentence's tokens at a time")
    if not tokens and not allow_empty:
        raise ValueError(f"{name} is empty: give at least one token")
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
        ok = value in choices
    except TypeError:  # unhashable value against a set
        ok = False
    if not ok:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r:.60}")
    return value


_KINDS = {
    "int": lambda dt: not dt.is_floating_point and not dt.is_complex and str(dt) != "torch.bool",
    "float": lambda dt: dt.is_floating_point,
    "bool": lambda dt: str(dt) == "torch.bool",
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
    if kind is not None and not _KINDS[kind](x.dtype):
        words = {"int": "integers", "float": "floating-point numbers", "bool": "bools"}[kind]
        raise InputTypeError(f"{name} must be a tensor of {words}, got dtype {x.dtype}")
    if shape is not None and (x.dim() != len(shape) or any(s is not None and s != n for s, n in zip(shape, x.shape))):
        want = tuple("*" if s is None else s for s in shape)
        raise ValueError(f"{name} must have shape {want}, got {tuple(x.shape)}")
    if device is not None and x.device != device:
        raise ValueError(f"{name} is on {x.device} but must be on {device}; move it with .to({str(device)!r})")
    return x
