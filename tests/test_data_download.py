"""Tests for course_lib.data.download (and the Multi30k download path through it).

Multi30k tests run the real download code against the offline mirror (see conftest.py).
"""

from __future__ import annotations

import shutil
import urllib.request
from pathlib import Path

import pytest

from course_lib import data as D
from course_lib.data import ChecksumError, DataDownloadError
from course_lib.data.corpora import _multi30k_checksums


def _cache_files(folder: Path) -> list[Path]:
    return [p for p in Path(folder).rglob("*") if p.is_file()]


def test_checksum_file_covers_every_split_and_language():
    sums = _multi30k_checksums()
    assert sums == D.read_checksums("multi30k.txt")
    for split in D.MULTI30K_SPLITS:
        for lang in D.MULTI30K_LANGS:
            rel = f"data/task1/raw/{split}.{lang}.gz"
            assert len(sums[rel]) == 64 and int(sums[rel], 16) >= 0


def test_read_checksums_unknown_file():
    with pytest.raises(ValueError, match="no checksum list"):
        D.read_checksums("nope.txt")


def test_multi30k_cache_reuse_does_not_download(mirror_root, monkeypatch):
    D.load_multi30k("val", "de", "en")  # make sure it is cached

    def no_network(*args, **kwargs):
        raise AssertionError("urlopen must not be called when the cache is valid")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    assert len(D.load_multi30k("val", "de", "en")) == 1014


def test_multi30k_plain_path_without_trailing_slash(mirror_root, monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA_URL", str(mirror_root / "multi30k"))  # no scheme, no slash
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "cache"))
    assert len(D.load_multi30k("test_2017_mscoco", "de", "en")) == 461
    assert (tmp_path / "cache" / "multi30k" / "data/task1/raw/test_2017_mscoco.de.gz").is_file()


def test_checksum_failure_keeps_nothing(mirror_root, monkeypatch, tmp_path):
    raw = tmp_path / "bad_mirror" / "data" / "task1" / "raw"
    raw.mkdir(parents=True)
    for lang in ("de", "en"):
        shutil.copy(mirror_root / f"multi30k/data/task1/raw/val.{lang}.gz", raw)
    bad = raw / "val.de.gz"
    bad.chmod(0o644)
    with open(bad, "ab") as f:
        f.write(b"corrupted")
    cache = tmp_path / "cache"
    monkeypatch.setenv("COURSE_DATA_URL", (tmp_path / "bad_mirror").as_uri())
    monkeypatch.setenv("COURSE_DATA_DIR", str(cache))
    with pytest.raises(ChecksumError) as info:
        D.load_multi30k("val", "de", "en")
    msg = str(info.value)
    assert "val.de.gz" in msg and info.value.expected in msg and info.value.actual in msg
    assert info.value.expected != info.value.actual
    assert "not kept" in msg
    assert isinstance(info.value, ValueError)
    assert _cache_files(cache) == []  # neither the file nor a temp file remains


@pytest.mark.parametrize("kind", ["file", "http"])
def test_unreachable_url_raises_download_error(monkeypatch, tmp_path, kind):
    base = (tmp_path / "empty").as_uri() + "/" if kind == "file" else "http://127.0.0.1:9/mirror/"
    cache = tmp_path / "cache"
    monkeypatch.setenv("COURSE_DATA_URL", base)
    monkeypatch.setenv("COURSE_DATA_DIR", str(cache))
    with pytest.raises(DataDownloadError) as info:
        D.load_multi30k("val", "de", "en")
    msg = str(info.value)
    assert base + "data/task1/raw/val.de.gz" in msg
    assert "COURSE_DATA_URL" in msg
    assert isinstance(info.value, OSError)
    assert _cache_files(cache) == []


def test_download_file_reuses_valid_file_and_replaces_stale(tmp_path, monkeypatch):
    src = tmp_path / "src.bin"
    src.write_bytes(b"hello course")
    digest = D.sha256_file(src)
    dest = tmp_path / "cache" / "dest.bin"
    assert D.download_file(src.as_uri(), dest, digest) == dest
    assert dest.read_bytes() == b"hello course"
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: (_ for _ in ()).throw(AssertionError))
    assert D.download_file("http://unused.invalid/x", dest, digest) == dest  # no download
    monkeypatch.undo()
    dest.write_bytes(b"stale")
    assert D.download_file(src.as_uri(), dest, digest).read_bytes() == b"hello course"
    assert sorted(p.name for p in dest.parent.iterdir()) == ["dest.bin"]  # no temporary file left


def test_download_file_checksum_mismatch_inside_atomic_write(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"payload")
    dest = tmp_path / "cache" / "dest.bin"
    with pytest.raises(ChecksumError, match="not kept"):
        D.download_file(src.as_uri(), dest, "0" * 64)
    assert _cache_files(tmp_path / "cache") == []


def test_download_file_unreachable_leaves_nothing(tmp_path):
    """An interrupted download never leaves a partial file (atomic_write)."""
    dest = tmp_path / "cache" / "dest.bin"
    with pytest.raises(DataDownloadError):
        D.download_file((tmp_path / "missing.bin").as_uri(), dest, "a" * 64)
    assert not dest.exists() and _cache_files(tmp_path / "cache") == []


@pytest.mark.parametrize(
    "url, sha, exc",
    [
        (None, "a" * 64, TypeError),
        ("", "a" * 64, ValueError),  # the right type, a wrong value
        ("file:///x", None, TypeError),
        ("file:///x", "abc", ValueError),
        ("file:///x", "g" * 64, ValueError),
    ],
)
def test_download_file_bad_arguments(tmp_path, url, sha, exc):
    with pytest.raises(exc):
        D.download_file(url, tmp_path / "d.bin", sha)
    assert not (tmp_path / "d.bin").exists()


def test_data_cache_dir_defaults_outside_repo(monkeypatch, tmp_path):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert D.data_cache_dir() == (tmp_path / "xdg" / "course_lib").resolve()
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "mine"))
    assert D.data_cache_dir() == (tmp_path / "mine").resolve()


def test_read_checksums_and_sha256_file_bad_arguments(tmp_path):
    with pytest.raises(TypeError, match="name"):
        D.read_checksums(123)
    with pytest.raises(ValueError, match="plain file name"):
        D.read_checksums("../__init__.py")
    with pytest.raises(TypeError, match="path"):
        D.sha256_file(None)
    with pytest.raises(FileNotFoundError):
        D.sha256_file(tmp_path / "missing.bin")
