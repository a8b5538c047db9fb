"""Input checks shared by the modules of :mod:`course_lib.data` (private)."""

from __future__ import annotations

import numbers
from typing import Any, Iterable, Mapping


def check_positive_int(name: str, value: Any, *, allow_none: bool = False, minimum: int = 1) -> None:
    """Raise unless ``value`` is an int >= ``minimum`` (or ``None`` when ``allow_none``).

    Raises:
        TypeError: ``value`` is not an int (``bool`` and ``float`` are refused too).
        ValueError: ``value`` is below ``minimum``.
    """
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):  # NumPy integers welcome
        kind = f"an int >= {minimum}" + (" or None" if allow_none else "")
        raise TypeError(f"{name} must be {kind}, got {value!r} ({type(value).__name__})")
    if value < minimum:
        hint = " (use None for no limit)" if allow_none else ""
        raise ValueError(f"{name} must be >= {minimum}, got {value}{hint}")


def check_flag(name: str, value: Any) -> bool:
    """``value`` as a bool; refuse anything else (``"no"`` or ``None`` would silently mean True / False).

    Raises:
        TypeError: ``value`` is not a bool (a NumPy bool is accepted).
    """
    import numpy as np

    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r} ({type(value).__name__})")
    return bool(value)


def check_texts(texts: Any, what: str) -> list[str]:
    """``texts`` as a list of str; refuse a bare str (it would be iterated character by character).

    Raises:
        TypeError: ``texts`` is a str/bytes, a dict or set, not iterable, or holds something
            other than str.
    """
    if isinstance(texts, (str, bytes)):
        raise TypeError(
            f"{what} expects a list of sentences, got a single {type(texts).__name__}; "
            "wrap it in a list ([text]) or call the tokenizer on it directly"
        )
    if not isinstance(texts, Iterable) or isinstance(texts, (Mapping, set, frozenset)):
        raise TypeError(f"{what} expects a list of str, got {type(texts).__name__}")
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"{what} expects a list of str, but item {i} is a {type(t).__name__}: {t!r:.60}")
    return texts


def check_tokens(tokens: Any, what: str) -> list[str]:
    """``tokens`` as a list of str tokens; refuse a bare str and nested lists.

    Raises:
        TypeError: ``tokens`` is a str, a dict or set, not iterable, or holds something
            other than str.
    """
    if isinstance(tokens, (str, bytes)):
        raise TypeError(
            f"{what} expects a list of tokens, got a {type(tokens).__name__} ({tokens!r:.40}); tokenise it first"
        )
    if not isinstance(tokens, Iterable) or isinstance(tokens, (Mapping, set, frozenset)):
        raise TypeError(f"{what} expects a list of str tokens (in order), got {type(tokens).__name__}")
    tokens = list(tokens)
    for i, t in enumerate(tokens):
        if not isinstance(t, str):
            raise TypeError(
                f"{what} expects a list of str tokens, but item {i} is a {type(t).__name__} ({t!r:.40}); "
                "pass one sentence's tokens at a time"
            )
    return tokens


def save_json(path, payload: dict):
    """Write ``payload`` as UTF-8 JSON through :func:`course_lib.utils.atomic_write`; return the path."""
    import json

    from course_lib.utils import atomic_write

    return atomic_write(path, lambda f: json.dump(payload, f, ensure_ascii=False), mode="w", encoding="utf-8")


def load_format_json(path, fmt: str, field: str, field_type: type, what: str, hint: str) -> dict:
    """Read a JSON file written by :func:`save_json` whose ``"format"`` is ``fmt`` and whose
    ``field`` holds a ``field_type``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not valid UTF-8 JSON (e.g. truncated), or not a ``what`` file; the
            message ends with ``hint``.
    """
    import json
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no {what} at {path}; {hint}")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not a {what} (not valid JSON; truncated?): {err}; {hint}") from err
    if not isinstance(payload, dict) or payload.get("format") != fmt or not isinstance(payload.get(field), field_type):
        raise ValueError(f"{path} is not a {what}; {hint}")
    return payload
