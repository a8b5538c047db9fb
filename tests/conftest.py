"""Shared pytest set-up: point the data loaders at the offline mirror and a temp cache.

- If ``COURSE_DATA_URL`` is unset and the mirror exists at ``<repo>/../shared/data/multi30k/``,
  it is set to that folder's ``file://`` URL, so downloads run offline through the real code.
- The same for ``COURSE_ANKI_URL`` and ``<repo>/../shared/data/anki/`` (lesson 07).
- If ``COURSE_DATA_DIR`` is unset, it is set to a temporary folder for this test session,
  so tests never touch the user's cache.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
MIRROR_ROOT = (REPO_ROOT.parent / "shared" / "data").resolve()

_SESSION_CACHE: str | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _SESSION_CACHE
    if not os.environ.get("COURSE_DATA_URL") and (MIRROR_ROOT / "multi30k").is_dir():
        os.environ["COURSE_DATA_URL"] = (MIRROR_ROOT / "multi30k").as_uri() + "/"
    if not os.environ.get("COURSE_ANKI_URL") and (MIRROR_ROOT / "anki").is_dir():
        os.environ["COURSE_ANKI_URL"] = (MIRROR_ROOT / "anki").as_uri() + "/"  # lesson 07's pairs
    if not os.environ.get("COURSE_DATA_DIR"):
        _SESSION_CACHE = tempfile.mkdtemp(prefix="course_lib_test_cache_")
        os.environ["COURSE_DATA_DIR"] = _SESSION_CACHE


def pytest_unconfigure(config: pytest.Config) -> None:
    if _SESSION_CACHE is not None:
        shutil.rmtree(_SESSION_CACHE, ignore_errors=True)
        os.environ.pop("COURSE_DATA_DIR", None)


@pytest.fixture(scope="session")
def mirror_root() -> Path:
    """Path to the offline data mirror (``<repo>/../shared/data``); skips if it is missing."""
    if not (MIRROR_ROOT / "multi30k").is_dir():
        pytest.skip(f"offline data mirror not found at {MIRROR_ROOT} (needed for corpus tests)")
    return MIRROR_ROOT
