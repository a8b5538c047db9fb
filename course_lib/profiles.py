"""Run profiles: one setting, ``COURSE_PROFILE``, so one notebook serves three audiences.

- ``ci``:  a slice of the data and a small model; each lesson runs in a minute or two on two
  CPU cores (used by nbval in continuous integration).
- ``cpu``: a learner's laptop; minutes per lesson, results clearly better than ``ci``.
- ``gpu``: the full corpus and paper-like sizes on one GPU.

When ``COURSE_PROFILE`` is unset, ``gpu`` is chosen if a CUDA device is present, else ``cpu``.

Typical use in a lesson::

    profile = current_profile()
    print(profile)                       # every lesson prints the profile it runs under
    epochs = profile.pick(ci=1, cpu=8, gpu=20)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch

PROFILES = ("ci", "cpu", "gpu")

__all__ = ["PROFILES", "Profile", "current_profile", "profile_name"]


def profile_name(name: str | None = None) -> str:
    """Resolve the profile name: ``name`` if given, else ``$COURSE_PROFILE``, else by device.

    Names are read case-insensitively with surrounding spaces ignored (``"GPU "`` is ``gpu``),
    the same for the argument and the environment variable.

    Raises:
        ValueError: the name is not one of ``ci``, ``cpu``, ``gpu`` (an empty ``name``
            included: pass ``None`` to choose by device).
        TypeError (also a ValueError): ``name`` is not a str.
    """
    if name is not None:
        if not isinstance(name, str):
            raise _ProfileTypeError(f"the profile name must be a str (one of {', '.join(PROFILES)}) or None, "
                                    f"got {name!r}")
        raw, origin = name.strip().lower(), f"profile {name!r}"
        if not raw:
            raise ValueError(f"profile {name!r} is empty; use one of {', '.join(PROFILES)}, "
                             "or None to choose by device")
    else:
        env = os.environ.get("COURSE_PROFILE", "")
        raw, origin = env.strip().lower(), f"COURSE_PROFILE={env!r}"
        if not raw:
            return "gpu" if torch.cuda.is_available() else "cpu"
    if raw not in PROFILES:
        raise ValueError(
            f"{origin} is not a known profile; use one of {', '.join(PROFILES)} "
            "(or leave COURSE_PROFILE unset to choose by device)"
        )
    return raw


class _ProfileTypeError(TypeError, ValueError):
    """A profile name of the wrong type (a ``TypeError`` that is also a ``ValueError``)."""


@dataclass(frozen=True)
class Profile:
    """The active run profile.

    Attributes:
        name: ``"ci"``, ``"cpu"`` or ``"gpu"``.
    """

    name: str

    def __post_init__(self) -> None:
        if self.name not in PROFILES:
            raise ValueError(f"Profile name must be one of {', '.join(PROFILES)}, got {self.name!r}; "
                             "use current_profile(name) to read names leniently")

    def pick(self, *, ci: Any, cpu: Any, gpu: Any) -> Any:
        """Return the value given for this profile, e.g. ``profile.pick(ci=1, cpu=8, gpu=20)``."""
        return {"ci": ci, "cpu": cpu, "gpu": gpu}[self.name]

    def __str__(self) -> str:
        source = "from COURSE_PROFILE" if os.environ.get("COURSE_PROFILE", "").strip() else "chosen by device"
        return f"profile: {self.name} ({source})"


def current_profile(name: str | None = None) -> Profile:
    """The profile to run under (see :func:`profile_name` for the rules).

    Raises:
        ValueError: ``name`` or ``$COURSE_PROFILE`` is not a known profile (see :func:`profile_name`).
    """
    return Profile(profile_name(name))
