"""Private helpers of :mod:`course_lib.data`: JSON files, and the few checks only this package needs.

The generic checks (ints, reals, flags, texts, token lists) are :mod:`course_lib.checks`;
``check_items`` is its list check (a str, dict, set or non-iterable refused).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from course_lib.checks import InputTypeError, check_instance, check_items, check_text, require  # noqa: F401 (re-used)
from course_lib.utils import atomic_write

PATH_TYPES = (str, os.PathLike)


def check_pattern(value: Any, name: str, pattern: str, expected: str) -> str:
    """``value`` if it is a str that matches ``pattern`` in full, else a ``ValueError`` saying ``expected``."""
    require(re.fullmatch(pattern, check_text(value, name)), f"{name} must be {expected}, got {value!r:.70}")
    return value


def check_ids(values: Any, name: str, allow_empty: bool = False, low: int | None = 0) -> np.ndarray:
    """A flat list, array or tensor of integers (>= ``low`` unless it is ``None``) as an ``int64`` array.

    Raises:
        InputTypeError: not a flat sequence of integers (a str, floats, bools, nested lists).
        ValueError: empty (unless ``allow_empty``) or a value below ``low``.
    """
    values = list(values) if isinstance(values, Iterator) else values  # a generator: read it once
    try:
        arr = np.asarray(values.cpu() if isinstance(values, torch.Tensor) else values)
    except (TypeError, ValueError, RuntimeError):  # ragged lists
        arr = np.asarray(None)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):  # a str, a set, floats, bools, nested lists
        raise InputTypeError(f"{name} must be a flat (1-D) list of integer ids (see Vocab.encode), got {values!r:.40}")
    if (arr.size == 0 and not allow_empty) or (arr.size and low is not None and arr.min() < low):
        raise ValueError(f"{name} {'is empty' if arr.size == 0 else 'holds a negative id'}; give ids >= 0")
    return arr.astype(np.int64)


def save_json(path: str | os.PathLike, payload: dict) -> Path:
    """Write ``payload`` as UTF-8 JSON through :func:`course_lib.utils.atomic_write`; return the path."""
    return atomic_write(path, lambda f: json.dump(payload, f, ensure_ascii=False), mode="w", encoding="utf-8")


def load_format_json(path: Any, fmt: str, field: str, field_type: type, what: str, hint: str) -> dict:
    """Read a file written by :func:`save_json` whose ``"format"`` is ``fmt`` and whose ``field`` is a ``field_type``.

    Raises:
        InputTypeError: ``path`` is not a str or path. FileNotFoundError: no such file.
        ValueError: not UTF-8 JSON (truncated?) or not a ``what``; the message ends with ``hint``.
    """
    path = Path(check_instance(path, PATH_TYPES, "path", "a str or path"))
    require(path.is_file(), f"no {what} at {path}; {hint}", FileNotFoundError)
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        payload = None
    require(isinstance(payload, dict) and payload.get("format") == fmt and isinstance(payload.get(field), field_type),
            f"{path} is not a {what} (another file, or not valid JSON: truncated?); {hint}")
    return payload
