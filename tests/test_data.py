"""Tests for course_lib.data: corpora, tokenisers, vocabulary, batches and bucketing.

Multi30k tests run the real download code against the offline mirror (see conftest.py).
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
import urllib.request
import warnings
from pathlib import Path

import pytest
import torch

from course_lib import data as D
from course_lib.data import (
    EOS,
    PAD,
    SOS,
    SPECIALS,
    UNK,
    Batch,
    BucketBatchSampler,
    ChecksumError,
    DataDownloadError,
    Tokenizer,
    TranslationDataset,
    Vocab,
    collate_batch,
)


def _cache_files(folder: Path) -> list[Path]:
    return [p for p in Path(folder).rglob("*") if p.is_file()]


# ---------------------------------------------------------------------------------------
# Multi30k
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def multi30k_de_en(mirror_root):
    return D.prepare_multi30k("de", "en")


def test_checksum_file_covers_every_split_and_language():
    sums = D._multi30k_checksums()
    for split in D.MULTI30K_SPLITS:
        for lang in D.MULTI30K_LANGS:
            rel = f"data/task1/raw/{split}.{lang}.gz"
            assert len(sums[rel]) == 64


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
    digest = D._sha256(src)
    dest = tmp_path / "cache" / "dest.bin"
    assert D.download_file(src.as_uri(), dest, digest) == dest
    assert dest.read_bytes() == b"hello course"
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: (_ for _ in ()).throw(AssertionError))
    assert D.download_file("http://unused.invalid/x", dest, digest) == dest  # no download
    monkeypatch.undo()
    dest.write_bytes(b"stale")
    assert D.download_file(src.as_uri(), dest, digest).read_bytes() == b"hello course"


def test_unknown_split_language_and_same_language():
    with pytest.raises(ValueError, match="test_2016_flickr") as info:
        D.load_multi30k("testing", "de", "en")
    assert "train" in str(info.value) and "val" in str(info.value)
    with pytest.raises(ValueError, match=r"de, en, fr"):
        D.load_multi30k("train", "es", "en")
    with pytest.raises(ValueError, match="different"):
        D.load_multi30k("train", "en", "en")


def test_data_cache_dir_defaults_outside_repo(monkeypatch, tmp_path):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert D.data_cache_dir() == (tmp_path / "xdg" / "course_lib").resolve()
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "mine"))
    assert D.data_cache_dir() == (tmp_path / "mine").resolve()


def test_prepare_multi30k_full(multi30k_de_en):
    data = multi30k_de_en
    assert (len(data.train), len(data.val), len(data.test)) == (29000, 1014, 1000)
    assert data.src_vocab.itos[:4] == list(SPECIALS) and data.tgt_vocab.itos[:4] == list(SPECIALS)
    assert 5000 < len(data.src_vocab) < 12000 and 4000 < len(data.tgt_vocab) < 10000
    # upstream README: ~12.4 de / ~13.0 en words per training sentence
    mean_de = sum(map(len, data.train.src_tokens)) / len(data.train)
    mean_en = sum(map(len, data.train.tgt_tokens)) / len(data.train)
    assert 11 < mean_de < 14 and 12 < mean_en < 15
    text = data.describe()
    assert "29000" in text and str(len(data.src_vocab)) in text


def test_prepare_multi30k_subsets(mirror_root):
    a = D.prepare_multi30k("en", "fr", max_train_pairs=300, max_eval_pairs=50, seed=1)
    b = D.prepare_multi30k("en", "fr", max_train_pairs=300, max_eval_pairs=50, seed=1)
    assert (len(a.train), len(a.val), len(a.test)) == (300, 50, 50)
    assert a.train.pairs == b.train.pairs and a.src_vocab == b.src_vocab
    assert a.val.pairs == D.load_multi30k("val", "en", "fr")[:50]
    # vocabulary comes from the subset only
    counted = {t for toks in a.train.src_tokens for t in toks}
    assert set(a.src_vocab.itos[4:]) <= counted


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


def test_read_tab_pairs_errors(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("Go.\tVa !\nno tab here\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.txt, line 2"):
        D.read_tab_pairs(path)
    with pytest.raises(FileNotFoundError, match="manythings.org/anki"):
        D.read_tab_pairs(tmp_path / "missing.txt")


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


# ---------------------------------------------------------------------------------------
# Toy corpus
# ---------------------------------------------------------------------------------------


def test_make_date_corpus_deterministic_and_correct():
    a = D.make_date_corpus(2000, seed=5)
    assert a == D.make_date_corpus(2000, seed=5)
    assert a != D.make_date_corpus(2000, seed=6)
    months = [m.lower() for m in D._MONTHS]
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


def test_char_tokenize():
    toks = D.char_tokenize("3 may")
    assert toks == ["3", D.SPACE_TOKEN, "m", "a", "y"]
    assert "".join(toks).replace(D.SPACE_TOKEN, " ") == "3 may"


# ---------------------------------------------------------------------------------------
# Tokenisers
# ---------------------------------------------------------------------------------------


def test_tokenizer_language_rules_and_lowercase():
    de, en = Tokenizer("de"), Tokenizer("en")
    assert de("Ein Mann im Park.") == ["ein", "mann", "im", "park", "."]
    assert "im" not in en("Ein Mann im Park.")  # English rules split "im" like "I'm"
    assert Tokenizer("de", lower=False)("Ein Mann") == ["Ein", "Mann"]
    assert de("  Zwei   Hunde \n") == ["zwei", "hunde"]  # whitespace tokens dropped
    texts = ["Ein Hund läuft.", "Zwei Männer spielen Fußball."]
    assert de.tokenize_many(texts) == [de(t) for t in texts]


def test_tokenizer_unknown_language():
    with pytest.raises(ValueError, match="spaCy"):
        Tokenizer("not-a-language")


# ---------------------------------------------------------------------------------------
# Vocab
# ---------------------------------------------------------------------------------------


def test_vocab_build_specials_min_freq_order():
    sents = [["a", "dog", "runs"], ["a", "cat", "runs"], ["a", "dog"], ["bird"]]
    v = Vocab.build(sents, min_freq=2)
    assert v.itos == [PAD, UNK, SOS, EOS, "a", "dog", "runs"]  # freq desc, then alphabetical
    assert (v.pad_id, v.unk_id, v.sos_id, v.eos_id) == (0, 1, 2, 3)
    assert "cat" not in v and "dog" in v and v["cat"] == v.unk_id
    assert len(Vocab.build(sents, min_freq=1)) == 4 + 5
    assert len(Vocab.build(sents, min_freq=1, max_size=6)) == 6


def test_vocab_encode_decode_round_trip():
    v = Vocab.build([["a", "dog", "runs"]] * 2, min_freq=1)
    ids = v.encode(["a", "dog", "flies"])
    assert ids == [v.sos_id, v["a"], v["dog"], v.unk_id, v.eos_id]
    assert v.decode(ids) == ["a", "dog", UNK]
    assert v.decode(torch.tensor(ids + [v.pad_id, v["a"]])) == ["a", "dog", UNK]
    assert v.decode(ids, strip_special=False) == [SOS, "a", "dog", UNK]
    assert v.decode(ids, strip_special=False, stop_at_eos=False) == [SOS, "a", "dog", UNK, EOS]
    assert v.encode(["a"], add_sos_eos=False) == [v["a"]]
    with pytest.raises(TypeError):
        v.encode("a dog")


def test_vocab_save_load_and_validation(tmp_path):
    v = Vocab.build([["ein", "Hund", "läuft", "ein"]], min_freq=1)
    path = v.save(tmp_path / "sub" / "vocab.json")
    assert Vocab.load(path) == v
    assert [p.name for p in path.parent.iterdir()] == ["vocab.json"]  # no temp file left
    (tmp_path / "other.json").write_text('{"hello": 1}')
    with pytest.raises(ValueError, match="not a course_lib vocabulary"):
        Vocab.load(tmp_path / "other.json")
    (tmp_path / "text.json").write_text("not json")
    with pytest.raises(ValueError, match="not a course_lib vocabulary"):
        Vocab.load(tmp_path / "text.json")
    with pytest.raises(ValueError, match="special tokens"):
        Vocab(["a", "b"])
    assert "size=" in repr(v)


# ---------------------------------------------------------------------------------------
# Batches, datasets, bucketing
# ---------------------------------------------------------------------------------------


def test_collate_batch_padding_lengths_mask():
    examples = [([5, 6, 3], [2, 7, 3]), ([5, 3], [2, 7, 8, 9, 3]), ([4, 5, 6, 7, 3], [2, 3])]
    b = collate_batch(examples, pad_id=0)
    assert isinstance(b, Batch) and len(b) == 3
    assert b.src.shape == (3, 5) and b.tgt.shape == (3, 5)
    assert b.src.dtype == torch.long and b.src_lens.tolist() == [3, 2, 5] and b.tgt_lens.tolist() == [3, 5, 2]
    assert b.src[1].tolist() == [5, 3, 0, 0, 0] and b.tgt[2].tolist() == [2, 3, 0, 0, 0]
    assert torch.equal(b.src_pad_mask, b.src == 0)
    assert b.src_pad_mask.dtype == torch.bool and b.src_pad_mask.sum().item() == 15 - 10
    assert b.num_tgt_tokens == (3 + 5 + 2) - 3
    moved = b.to("cpu")
    assert torch.equal(moved.src, b.src) and torch.equal(moved.src_lens, b.src_lens)
    with pytest.raises(ValueError):
        collate_batch([])


def _toy_dataset(max_len=None):
    pairs = [("a b c", "x y"), ("a b c d e f", "x"), ("a", "x y z w v u t"), ("b c", "y z")]
    tok = str.split
    src_vocab = Vocab.build([tok(s) for s, _ in pairs], min_freq=1)
    tgt_vocab = Vocab.build([tok(t) for _, t in pairs], min_freq=1)
    return TranslationDataset(pairs, tok, tok, src_vocab, tgt_vocab, max_len=max_len)


def test_translation_dataset_encoding():
    ds = _toy_dataset()
    assert len(ds) == 4 and ds.num_dropped == 0
    src, tgt = ds[0]
    assert src == ds.src_vocab.encode(["a", "b", "c"], add_sos_eos=False) + [ds.src_vocab.eos_id]
    assert tgt == ds.tgt_vocab.encode(["x", "y"])
    assert tgt[0] == ds.tgt_vocab.sos_id and tgt[-1] == ds.tgt_vocab.eos_id
    assert ds.src_lengths() == [4, 7, 2, 3]


def test_translation_dataset_max_len_drops_and_warns():
    with pytest.warns(UserWarning, match="dropped 2 of 4"):
        ds = _toy_dataset(max_len=3)
    assert ds.num_dropped == 2 and len(ds) == 2
    assert ds.pairs == [("a b c", "x y"), ("b c", "y z")]  # kept whole, not truncated
    assert [len(t) for t in ds.src_tokens] == [3, 2]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _toy_dataset(max_len=10).num_dropped == 0


def _padding(batches, lengths):
    return sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in batches)


def test_bucket_sampler_covers_each_index_once(multi30k_de_en):
    lengths = multi30k_de_en.train.src_lengths()
    s = BucketBatchSampler(lengths, batch_size=64, seed=0)
    batches = list(s)
    assert len(batches) == len(s) == -(-len(lengths) // 64)
    assert all(1 <= len(b) <= 64 for b in batches)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    # less padding than random batches of the same size
    perm = torch.randperm(len(lengths), generator=torch.Generator().manual_seed(0)).tolist()
    random_batches = [perm[i : i + 64] for i in range(0, len(perm), 64)]
    assert _padding(batches, lengths) < 0.5 * _padding(random_batches, lengths)


def test_bucket_sampler_reproducible_and_epoch_dependent():
    lengths = [random.Random(i).randint(1, 40) for i in range(1000)]
    a, b = BucketBatchSampler(lengths, 32, seed=7), BucketBatchSampler(lengths, 32, seed=7)
    epoch0, epoch1 = list(a), list(a)
    assert epoch0 == list(b) and epoch1 == list(b)  # same seed, same sequence of epochs
    assert epoch0 != epoch1
    a.set_epoch(0)
    assert list(a) == epoch0
    assert list(BucketBatchSampler(lengths, 32, seed=8)) != epoch0
    fixed = BucketBatchSampler(lengths, 32, shuffle=False)
    ordered = list(fixed)
    assert ordered == list(fixed)
    flat = [i for batch in ordered for i in batch]
    assert sorted(flat) == list(range(1000))
    assert [lengths[i] for i in flat] == sorted(lengths)
    with pytest.raises(ValueError):
        BucketBatchSampler(lengths, 0)


def test_make_loader_yields_batches():
    ds = _toy_dataset()
    for bucket in (True, False):
        loader = D.make_loader(ds, batch_size=3, bucket=bucket, seed=0)
        batches = list(loader)
        assert sum(len(b) for b in batches) == len(ds)
        assert all(isinstance(b, Batch) and len(b) <= 3 for b in batches)
        for b in batches:
            assert torch.equal(b.src_pad_mask, b.src == ds.src_vocab.pad_id)
    fixed = D.make_loader(ds, batch_size=2, shuffle=False, bucket=False)
    assert next(iter(fixed)).src_lens.tolist() == [4, 7]


def test_prepare_pairs_with_date_corpus():
    pairs = D.make_date_corpus(500, seed=0)
    parts = D.split_pairs(pairs, seed=0)
    data = D.prepare_pairs(
        parts["train"], parts["val"], parts["test"], D.char_tokenize, D.char_tokenize, src_lang="date", tgt_lang="iso"
    )
    assert len(data.train) + len(data.val) + len(data.test) == 500
    assert set("0123456789-") <= set(data.tgt_vocab.itos)
    assert len(data.tgt_vocab) == 4 + 11  # ten digits and "-"
    batch = next(iter(D.make_loader(data.train, 16)))
    assert batch.tgt.shape[1] == 12 and (batch.tgt_lens == 12).all()  # <sos> + 10 chars + <eos>
    assert "date -> iso" in data.describe()
