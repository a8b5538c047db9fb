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

    Raises:
        ValueError: the name is not one of ``ci``, ``cpu``, ``gpu``.
    """
    raw = name if name is not None else os.environ.get("COURSE_PROFILE", "").strip()
    if not raw:
        return "gpu" if torch.cuda.is_available() else "cpu"
    raw = raw.lower()
    if raw not in PROFILES:
        raise ValueError(
            f"COURSE_PROFILE={raw!r} is not a known profile; use one of {', '.join(PROFILES)} "
            "(or leave it unset to choose by device)"
        )
    return raw


@dataclass(frozen=True)
class Profile:
    """The active run profile.

    Attributes:
        name: ``"ci"``, ``"cpu"`` or ``"gpu"``.
    """

    name: str

    def pick(self, *, ci: Any, cpu: Any, gpu: Any) -> Any:
        """Return the value given for this profile, e.g. ``profile.pick(ci=1, cpu=8, gpu=20)``."""
        return {"ci": ci, "cpu": cpu, "gpu": gpu}[self.name]

    def __str__(self) -> str:
        source = "from COURSE_PROFILE" if os.environ.get("COURSE_PROFILE", "").strip() else "chosen by device"
        return f"profile: {self.name} ({source})"


def current_profile(name: str | None = None) -> Profile:
    """The profile to run under (see :func:`profile_name` for the rules).

    Raises:
        ValueError: ``name`` or ``$COURSE_PROFILE`` is not a known profile.
    """
    return Profile(profile_name(name))
