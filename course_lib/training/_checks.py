"""The training package's door checks (the generic ones come from :mod:`course_lib.checks`)."""

from __future__ import annotations

import os
from typing import Any

from torch import Tensor

from ..checks import InputTypeError, require


def check_path(path: Any, name: str) -> str:
    """``path`` (a non-empty str or ``os.PathLike``) as a str."""
    require(isinstance(path, (str, os.PathLike)) and str(path),
            f"{name} must be a non-empty path (str or pathlib.Path), got {path!r}", InputTypeError)
    return str(path)


def check_loader(loader: Any, name: str, need_len: bool = False) -> None:
    """``loader`` must iterate over batches (again every epoch when ``need_len``) and not be empty."""
    kind = "an iterable of course_lib.data.Batch (make_loader(...) or a list)" + (
        ", with a length: not a one-shot generator, as every epoch iterates it again" if need_len else "")
    ok = hasattr(loader, "__iter__") and not isinstance(loader, (str, bytes, dict, Tensor))
    require(ok and (hasattr(loader, "__len__") or not need_len), f"{name} must be {kind}, got {type(loader).__name__}",
            InputTypeError)
    require(not hasattr(loader, "__len__") or len(loader), f"{name} is empty: no batches (an empty dataset, or "
            "drop_last with too large a batch_size?)")
