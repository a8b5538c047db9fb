"""Run profiles: one setting, ``COURSE_PROFILE``, so one notebook serves three audiences.

``ci``: a data slice and a small model, a minute or two per lesson on two CPU cores (nbval);
``cpu``: a learner's laptop; ``gpu``: the full corpus and paper-like sizes on one GPU (the
default where CUDA is present, else ``cpu``). ``COURSE_MAX_MINUTES``, when set, caps every
training budget a lesson picks (:meth:`Profile.pick`; smoke runs such as ``scripts/check_gpu.sh``).
A lesson starts ``profile = current_profile(); print(profile)`` and picks its settings with
``profile.pick(ci=..., cpu=..., gpu=...)``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Optional

import torch

from .checks import InputTypeError, check_real
from .utils import require

PROFILES = ("ci", "cpu", "gpu")
MAX_MINUTES_ENV = "COURSE_MAX_MINUTES"

__all__ = ["PROFILES", "MAX_MINUTES_ENV", "Profile", "current_profile", "profile_name", "max_minutes"]



def profile_name(name: str | None = None) -> str:
    """The profile name: ``name`` if given, else ``$COURSE_PROFILE``, else chosen by device (any case and spaces).

    Raises:
        ValueError: not ``ci``, ``cpu`` or ``gpu`` (an empty ``name`` included: pass None to choose by
            device). InputTypeError (a TypeError): ``name`` is not a str.
    """
    require(name is None or isinstance(name, str), f"the profile name must be a str, got {name!r}", InputTypeError)
    env = os.environ.get("COURSE_PROFILE", "")
    if name is None and not env.strip():
        return "gpu" if torch.cuda.is_available() else "cpu"
    raw, origin = (name, f"profile {name!r}") if name is not None else (env, f"COURSE_PROFILE={env!r}")
    require(raw.strip().lower() in PROFILES, f"{origin} is not a known profile; use one of {', '.join(PROFILES)}")
    return raw.strip().lower()


def max_minutes() -> Optional[float]:
    """The cap on training budgets in ``$COURSE_MAX_MINUTES`` (None if unset); ValueError if not a positive number."""
    raw = os.environ.get(MAX_MINUTES_ENV, "").strip()
    try:
        value = float(raw) if raw else None
    except ValueError:
        value = raw
    return check_real(value, f"{MAX_MINUTES_ENV} (minutes, e.g. 0.2)", low=0, low_open=True, allow_none=True)


@dataclass(frozen=True)
class Profile:
    """The active run profile; ``name`` is ``"ci"``, ``"cpu"`` or ``"gpu"`` (else ValueError)."""

    name: str

    def __post_init__(self) -> None:
        require(self.name in PROFILES, f"Profile name must be one of {', '.join(PROFILES)}, got {self.name!r}")

    def pick(self, *, ci: Any, cpu: Any, gpu: Any) -> Any:
        """The value given for this profile, e.g. ``profile.pick(ci=1, cpu=8, gpu=20)``.

        Given dicts of settings and ``$COURSE_MAX_MINUTES``, every number under a key containing
        ``"minutes"`` (``minutes``, ``max_minutes``, ``minutes_each``...) is capped at it, in a copy.
        """
        value, cap = {"ci": ci, "cpu": cpu, "gpu": gpu}[self.name], max_minutes()
        if cap is None or not isinstance(value, dict):
            return value
        return {k: min(v, cap) if "minutes" in str(k) and isinstance(v, (int, float)) else v for k, v in value.items()}

    def __str__(self) -> str:
        source = "from COURSE_PROFILE" if os.environ.get("COURSE_PROFILE", "").strip() else "chosen by device"
        cap = max_minutes()
        return f"profile: {self.name} ({source}{f'; training budgets capped at {cap:g} min' if cap else ''})"


def current_profile(name: str | None = None) -> Profile:
    """The profile to run under (rules and errors: :func:`profile_name`)."""
    return Profile(profile_name(name))
