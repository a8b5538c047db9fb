"""Tests for course_lib.data.corpora: Multi30k, Anki/Tatoeba pairs, the toy date corpus."""

from __future__ import annotations

import datetime as dt
import warnings

import pytest

from course_lib import data as D
from course_lib.data.corpora import _MONTHS

# ---------------------------------------------------------------------------------------
# Multi30k
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("split", ["train", "val", "test_2016_flickr"])
def test_multi30k_counts_de_en(mirror_root, split):
    pairs = D.load_multi30k(split, "de", "en")
    assert len(pairs) == D.MULTI30K_SPLITS[split] == {"train": 29000, "val": 1014, "test_2016_flickr": 1000}[split]
    assert all(isinstance(s, str) and isinstance(t, str) for s, t in pairs)
    assert all(s == s.strip() and t == t.strip() and s and t for s, t in pairs)


def test_multi30k_other_direction_en_fr(mirror_root):
    en_fr = D.load_multi30k("val", "en", "fr")
    de_en = D.load_multi30k("val", "de", "en")
    assert len(en_fr) == 1014
    assert [p[0] for p in en_fr] == [p[1] for p in de_en]  # same English side, line-aligned
    assert len(D.load_multi30k("test_2017_mscoco", "en", "fr")) == 461


def test_unknown_split_language_and_same_language():
    with pytest.raises(ValueError, match="test_2016_flickr") as info:
        D.load_multi30k("testing", "de", "en")
    assert "train" in str(info.value) and "val" in str(info.value)
    with pytest.raises(ValueError, match=r"de, en, fr"):
        D.load_multi30k("train", "es", "en")
    with pytest.raises(ValueError, match="different"):
        D.load_multi30k("train", "en", "en")
    with pytest.raises(ValueError, match="valid languages"):
        D.multi30k_file("val", "cs")


@pytest.mark.parametrize("args", [(["train"], "de", "en"), ("train", ["de"], "en"), ("train", "de", None), (None, "de", "en")])
def test_load_multi30k_wrong_types(args):
    with pytest.raises(TypeError, match="str"):
        D.load_multi30k(*args)


# ---------------------------------------------------------------------------------------
# Anki / Tatoeba
# ---------------------------------------------------------------------------------------


def test_read_tab_pairs_two_columns_mirror(mirror_root):
    pairs = D.read_tab_pairs(mirror_root / "anki" / "mar.txt")
    assert len(pairs) == 33725
    assert pairs[0][0] == "Go."
    assert all(e and m for e, m in pairs)
    assert len(D.read_tab_pairs(mirror_root / "anki" / "mar.txt", max_pairs=10)) == 10


def test_read_tab_pairs_three_columns_and_blank_lines(tmp_path):
    path = tmp_path / "fra.txt"
    path.write_text(
        "Go.\tVa !\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272\n"
        "\n"
        "Hi.\tSalut !\tCC-BY 2.0 (France) Attribution: tatoeba.org #538123\r\n",
        encoding="utf-8",
    )
    assert D.read_tab_pairs(path) == [("Go.", "Va !"), ("Hi.", "Salut !")]


def test_read_tab_pairs_strips_byte_order_mark(tmp_path):
    """Defect: a file saved with a UTF-8 BOM gave '\\ufeffGo.' as the first sentence."""
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeffGo.\tVa !\nHi.\tSalut !\n".encode("utf-8"))
    pairs = D.read_tab_pairs(path)
    assert pairs == [("Go.", "Va !"), ("Hi.", "Salut !")]
    assert not any("\ufeff" in s or "\ufeff" in t for s, t in pairs)


def test_read_tab_pairs_skips_empty_side_with_counting_warning(tmp_path):
    """Defect: lines with an empty source or target became training pairs."""
    path = tmp_path / "holes.txt"
    path.write_text("Go.\tVa !\n\tSalut !\nRun!\t   \nWow!\tÇa alors !\nHi.\t\tCC-BY attribution\n \t \n", encoding="utf-8")
    with pytest.warns(UserWarning, match=r"skipped 3 line\(s\).*lines 2, 3, 5"):
        pairs = D.read_tab_pairs(path)
    assert pairs == [("Go.", "Va !"), ("Wow!", "Ça alors !")]
    assert all(s and t for s, t in pairs)


def test_read_tab_pairs_no_warning_for_clean_file(tmp_path):
    path = tmp_path / "ok.txt"
    path.write_text("Go.\tVa !\n", encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert D.read_tab_pairs(path) == [("Go.", "Va !")]


def test_read_tab_pairs_max_pairs_counts_kept_pairs(tmp_path):
    path = tmp_path / "holes.txt"
    path.write_text("\tx\nA\ta\nB\tb\nC\tc\n", encoding="utf-8")
    with pytest.warns(UserWarning):
        assert D.read_tab_pairs(path, max_pairs=2) == [("A", "a"), ("B", "b")]


def test_read_tab_pairs_errors(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("Go.\tVa !\nno tab here\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.txt, line 2"):
        D.read_tab_pairs(path)
    with pytest.raises(FileNotFoundError, match="manythings.org/anki"):
        D.read_tab_pairs(tmp_path / "missing.txt")
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("Go.\tÇa\n".encode("latin-1"))
    with pytest.raises(ValueError, match="UTF-8"):
        D.read_tab_pairs(latin)


@pytest.mark.parametrize(
    "max_pairs, exc", [(0, ValueError), (-1, ValueError), (2.5, TypeError), ("3", TypeError), (True, TypeError)]
)
def test_read_tab_pairs_bad_max_pairs(tmp_path, max_pairs, exc):
    path = tmp_path / "ok.txt"
    path.write_text("Go.\tVa !\n", encoding="utf-8")
    with pytest.raises(exc, match="max_pairs"):
        D.read_tab_pairs(path, max_pairs=max_pairs)


def test_read_tab_pairs_bad_path_type():
    with pytest.raises(TypeError, match="path"):
        D.read_tab_pairs(42)


def test_split_pairs_disjoint_complete_and_seeded():
    pairs = [(f"s{i}", f"t{i}") for i in range(1000)]
    parts = D.split_pairs(pairs, val_fraction=0.1, test_fraction=0.05, seed=3)
    assert (len(parts["train"]), len(parts["val"]), len(parts["test"])) == (850, 100, 50)
    together = parts["train"] + parts["val"] + parts["test"]
    assert sorted(together) == sorted(pairs)
    assert not set(parts["train"]) & set(parts["val"]) and not set(parts["val"]) & set(parts["test"])
    assert D.split_pairs(pairs, 0.1, 0.05, seed=3) == parts
    assert D.split_pairs(pairs, 0.1, 0.05, seed=4) != parts
    with pytest.raises(ValueError):
        D.split_pairs(pairs, 0.6, 0.5)


@pytest.mark.parametrize("val, test", [(0, 0.1), (0.1, 0), (1, 0.1), (0.1, 1.0), (-0.1, 0.1), (0.1, float("nan")), (1.5, 0.1)])
def test_split_pairs_fractions_outside_open_interval(val, test):
    pairs = [(f"s{i}", f"t{i}") for i in range(100)]
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        D.split_pairs(pairs, val, test)


def test_split_pairs_bad_types_and_too_few():
    with pytest.raises(TypeError, match="pairs"):
        D.split_pairs("hund\tdog")
    with pytest.raises(TypeError, match="val_fraction"):
        D.split_pairs([("a", "b")] * 10, "0.1", 0.1)
    with pytest.raises(ValueError, match="too few"):
        D.split_pairs([("a", "b")] * 5, 0.05, 0.05)  # round(0.25) == 0: an empty val split
    with pytest.raises(ValueError, match="too few"):
        D.split_pairs([], 0.1, 0.1)


# ---------------------------------------------------------------------------------------
# Toy corpus
# ---------------------------------------------------------------------------------------


def test_make_date_corpus_deterministic_and_correct():
    a = D.make_date_corpus(2000, seed=5)
    assert a == D.make_date_corpus(2000, seed=5)
    assert a != D.make_date_corpus(2000, seed=6)
    months = [m.lower() for m in _MONTHS]
    shapes = set()
    for src, tgt in a:
        date = dt.date.fromisoformat(tgt)
        assert len(tgt) == 10 and 1950 <= date.year <= 2049
        low = src.lower()
        assert str(date.year) in src or f"{date.year % 100:02d}" in src
        assert str(date.day) in src
        assert months[date.month - 1][:3] in low or str(date.month) in src
        shapes.add("".join("9" if c.isdigit() else c for c in src if not c.isalpha()))
    assert len(shapes) >= 8  # many written forms


@pytest.mark.parametrize("n, exc", [(0, ValueError), (-3, ValueError), (2.0, TypeError), ("10", TypeError)])
def test_make_date_corpus_bad_size(n, exc):
    with pytest.raises(exc, match="n must be"):
        D.make_date_corpus(n)
