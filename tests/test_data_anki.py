"""The Anki/Tatoeba download (``anki_file``, ``load_anki_pairs``) through the real code path.

The mirror is ``<repo>/../shared/data/anki/`` (computed from this file, as conftest does);
``COURSE_ANKI_URL`` points at it with monkeypatch. The canonical zip layout is exercised by
pointing ``ANKI_BASE_URL`` at a temporary folder holding a zip of the mirror's file.
"""

from __future__ import annotations

import hashlib
import warnings
import zipfile
from pathlib import Path

import pytest

from course_lib import data
from course_lib.data import corpora

ANKI_MIRROR = (Path(__file__).resolve().parents[1].parent / "shared" / "data" / "anki").resolve()
MAR_PAIRS = 33725


@pytest.fixture
def anki_mirror(monkeypatch, tmp_path) -> Path:
    if not (ANKI_MIRROR / "mar.txt").is_file():
        pytest.skip(f"offline Anki mirror not found at {ANKI_MIRROR}")
    monkeypatch.setenv("COURSE_ANKI_URL", ANKI_MIRROR.as_uri() + "/")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "cache"))
    return ANKI_MIRROR


def _leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_download_from_mirror_verifies_and_caches(anki_mirror, tmp_path):
    path = data.anki_file("mar")
    assert path == tmp_path / "cache" / "anki" / "mar.txt"
    pinned = data.read_checksums("anki.txt")["mar.txt"]
    assert data.sha256_file(path) == pinned == data.sha256_file(anki_mirror / "mar.txt")
    pairs = data.load_anki_pairs("mar")
    assert len(pairs) == MAR_PAIRS
    assert pairs[0] == ("Go.", "जा.")
    assert all(en.strip() and mr.strip() for en, mr in pairs)
    # English on the left, Devanagari on the right
    assert any("\u0900" <= ch <= "\u097f" for ch in pairs[100][1])
    assert not any("\u0900" <= ch <= "\u097f" for ch in pairs[100][0])


def test_cache_is_reused_without_the_mirror(anki_mirror, monkeypatch, tmp_path):
    first = data.anki_file("mar")
    mtime = first.stat().st_mtime_ns
    monkeypatch.setenv("COURSE_ANKI_URL", (tmp_path / "gone").as_uri())  # unreachable now
    assert data.anki_file("mar") == first
    assert first.stat().st_mtime_ns == mtime


def test_max_pairs_keeps_the_first_pairs(anki_mirror):
    some = data.load_anki_pairs("mar", max_pairs=10)
    assert len(some) == 10 and some == data.load_anki_pairs("mar")[:10]


def test_plain_folder_override_works(anki_mirror, monkeypatch):
    monkeypatch.setenv("COURSE_ANKI_URL", str(anki_mirror))  # no scheme, no trailing slash
    assert len(data.load_anki_pairs("mar", max_pairs=3)) == 3


def test_checksum_mismatch_keeps_nothing(anki_mirror, monkeypatch, tmp_path):
    bad = tmp_path / "bad_mirror"
    bad.mkdir()
    (bad / "mar.txt").write_bytes((anki_mirror / "mar.txt").read_bytes()[:-10])  # truncated copy
    monkeypatch.setenv("COURSE_ANKI_URL", bad.as_uri())
    with pytest.raises(data.ChecksumError) as info:
        data.anki_file("mar")
    assert "COURSE_ANKI_URL" in str(info.value)
    assert _leftovers(tmp_path / "cache" / "anki") == []


def test_stale_cache_is_replaced(anki_mirror, tmp_path):
    dest = tmp_path / "cache" / "anki" / "mar.txt"
    dest.parent.mkdir(parents=True)
    dest.write_text("Go.\tजा.\n", encoding="utf-8")
    assert data.sha256_file(data.anki_file("mar")) == data.read_checksums("anki.txt")["mar.txt"]


def test_unreachable_mirror_names_the_variable(anki_mirror, monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_ANKI_URL", (tmp_path / "nowhere").as_uri() + "/")
    with pytest.raises(data.DataDownloadError) as info:
        data.load_anki_pairs("mar")
    assert "COURSE_ANKI_URL" in str(info.value)
    assert "nowhere/mar.txt" in info.value.url
    assert _leftovers(tmp_path / "cache" / "anki") == []


def test_unpinned_language_on_a_mirror_is_refused_before_download(anki_mirror, monkeypatch, tmp_path):
    other = tmp_path / "mirror2"
    other.mkdir()
    (other / "deu.txt").write_text("Hello.\tHallo.\n", encoding="utf-8")
    monkeypatch.setenv("COURSE_ANKI_URL", other.as_uri())
    with pytest.raises(ValueError, match="sha256"):
        data.anki_file("deu")
    assert _leftovers(tmp_path / "cache" / "anki") == []
    digest = hashlib.sha256((other / "deu.txt").read_bytes()).hexdigest()
    assert data.load_anki_pairs("deu", sha256=digest.upper()) == [("Hello.", "Hallo.")]


@pytest.mark.parametrize("lang", ["Marathi", "MAR", "", "ma", "mar\n", "../x"])
def test_bad_lang_is_a_value_error(anki_mirror, lang):
    with pytest.raises(ValueError, match="three-letter"):
        data.anki_file(lang)


@pytest.mark.parametrize("lang", [None, 3, ["mar"], b"mar"])
def test_non_str_lang_is_a_type_error(anki_mirror, lang):
    with pytest.raises(TypeError):
        data.load_anki_pairs(lang)


@pytest.mark.parametrize("sha", ["abc", "z" * 64, "0" * 63])
def test_bad_sha256_is_a_value_error(anki_mirror, sha, tmp_path):
    with pytest.raises(ValueError, match="64 hexadecimal"):
        data.anki_file("mar", sha256=sha)
    assert _leftovers(tmp_path / "cache" / "anki") == []


@pytest.mark.parametrize("max_pairs,exc", [(0, ValueError), (-1, ValueError), (2.5, TypeError), ("3", TypeError)])
def test_bad_max_pairs_is_refused_before_download(anki_mirror, monkeypatch, tmp_path, max_pairs, exc):
    monkeypatch.setenv("COURSE_ANKI_URL", (tmp_path / "nowhere").as_uri())  # a download would fail differently
    with pytest.raises(exc):
        data.load_anki_pairs("mar", max_pairs=max_pairs)


def test_sha256_of_wrong_type(anki_mirror):
    with pytest.raises(TypeError):
        data.anki_file("mar", sha256=123)


# --- the canonical layout: {base}{lang}-eng.zip holding {lang}.txt ------------------------


@pytest.fixture
def fake_site(anki_mirror, monkeypatch, tmp_path) -> Path:
    """A folder laid out like manythings.org/anki with mar-eng.zip; no override variable."""
    site = tmp_path / "site"
    site.mkdir()
    with zipfile.ZipFile(site / "mar-eng.zip", "w") as zf:
        zf.write(anki_mirror / "mar.txt", "mar.txt")
        zf.writestr("_about.txt", "attribution")
    monkeypatch.delenv("COURSE_ANKI_URL")
    monkeypatch.setattr(corpora, "ANKI_BASE_URL", site.as_uri() + "/")
    return site


def test_canonical_zip_unpinned_warns_with_its_digest_and_extracts(fake_site, tmp_path):
    digest = hashlib.sha256((fake_site / "mar-eng.zip").read_bytes()).hexdigest()
    with pytest.warns(UserWarning, match=digest):
        path = data.anki_file("mar")
    assert path == tmp_path / "cache" / "anki" / "mar-eng" / "mar.txt"
    assert data.sha256_file(path) == data.read_checksums("anki.txt")["mar.txt"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the cached zip matches its recorded digest: no new download
        assert data.anki_file("mar") == path


def test_canonical_zip_with_given_checksum(fake_site):
    digest = hashlib.sha256((fake_site / "mar-eng.zip").read_bytes()).hexdigest()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pairs = data.load_anki_pairs("mar", sha256=digest)
    assert len(pairs) == MAR_PAIRS


def test_canonical_zip_checksum_mismatch_keeps_nothing(fake_site, tmp_path):
    with pytest.raises(data.ChecksumError):
        data.anki_file("mar", sha256="0" * 64)
    assert _leftovers(tmp_path / "cache" / "anki") == []


def test_canonical_not_a_zip_is_removed(fake_site, tmp_path):
    (fake_site / "mar-eng.zip").write_text("<html>blocked</html>", encoding="utf-8")
    with pytest.raises(data.DataDownloadError, match="COURSE_ANKI_URL"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            data.anki_file("mar")
    assert not (tmp_path / "cache" / "anki" / "mar-eng.zip").exists()
    assert not (tmp_path / "cache" / "anki" / "mar-eng").exists()


def test_canonical_zip_without_the_member(fake_site):
    with zipfile.ZipFile(fake_site / "mar-eng.zip", "w") as zf:
        zf.writestr("other.txt", "x")
    with pytest.raises(ValueError, match="has no mar.txt"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            data.anki_file("mar")


def test_canonical_offline_names_the_variable(anki_mirror, monkeypatch, tmp_path):
    monkeypatch.delenv("COURSE_ANKI_URL")
    monkeypatch.setattr(corpora, "ANKI_BASE_URL", (tmp_path / "offline").as_uri() + "/")
    with pytest.raises(data.DataDownloadError, match="COURSE_ANKI_URL"):
        data.anki_file("mar")
    assert _leftovers(tmp_path / "cache" / "anki") == []


def test_download_file_override_var_must_be_a_name(tmp_path):
    with pytest.raises(TypeError):
        data.download_file("file:///x", tmp_path / "x", "0" * 64, override_var=None)


def test_pinned_text_cached_from_a_mirror_serves_the_canonical_path(anki_mirror, monkeypatch, tmp_path):
    cached = data.anki_file("mar")  # from the mirror
    monkeypatch.delenv("COURSE_ANKI_URL")
    monkeypatch.setattr(corpora, "ANKI_BASE_URL", (tmp_path / "offline").as_uri() + "/")
    assert data.anki_file("mar") == cached  # verified copy, no download attempted
    cached.write_text("Go.\tजा.\n", encoding="utf-8")  # tampered: no longer the pinned release
    with pytest.raises(data.DataDownloadError, match="COURSE_ANKI_URL"):
        data.anki_file("mar")
