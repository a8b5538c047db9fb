"""Corpora, tokenisers, vocabularies and padded batches for the course.

What lives here, in the order a lesson uses it:

1. **Multi30k** (Elliott et al. 2016, "Multi30K: Multilingual English-German Image
   Descriptions"; Elliott et al. 2017 for French and the 2017 test sets): downloaded on
   first use from :data:`MULTI30K_BASE_URL`, verified against the SHA-256 sums shipped in
   ``course_lib/checksums/multi30k.txt``, cached in :func:`data_cache_dir`.
   :func:`load_multi30k` returns aligned ``(source, target)`` sentence pairs.
2. **Anki / Tatoeba** tab-separated pairs (manythings.org/anki, CC-BY 2.0 France):
   :func:`read_tab_pairs` and :func:`split_pairs`.
3. **A toy corpus** that needs no download and trains in seconds: dates written in many
   ways, to translate into ISO ``YYYY-MM-DD`` (:func:`make_date_corpus`,
   :func:`char_tokenize`).
4. **Tokenisers**: :class:`Tokenizer`, a spaCy *blank* (rule-based, no model download)
   tokeniser per language.
5. **Vocabulary**: :class:`Vocab` with the special tokens ``<pad>`` = 0, ``<unk>`` = 1,
   ``<sos>`` = 2, ``<eos>`` = 3.
6. **Batches**: :class:`TranslationDataset`, :func:`collate_batch` -> :class:`Batch`
   (batch-first, padded, with ``src_lens`` and ``src_pad_mask``), length bucketing with
   :class:`BucketBatchSampler`, and :func:`make_loader`.
7. **One-call builders**: :func:`prepare_multi30k` and :func:`prepare_pairs` return a
   :class:`TranslationData` with the three splits, both vocabularies and both tokenisers.

Environment variables:

- ``COURSE_DATA_URL``: base URL (or local folder) to download Multi30k from instead of
  GitHub, e.g. ``file:///path/to/mirror/multi30k/``; it must hold the same relative paths
  (``data/task1/raw/train.de.gz`` ...).
- ``COURSE_DATA_DIR``: where downloaded files are cached (default
  ``$XDG_CACHE_HOME/course_lib`` or ``~/.cache/course_lib``).

Nothing happens at import time: no downloads, and spaCy is imported only when a
:class:`Tokenizer` is created.

Shape legend: ``B`` batch, ``S`` source length, ``T`` target length (in tokens).
"""

from __future__ import annotations

import datetime as _dt
import functools
import gzip
import hashlib
import json
import math
import os
import random
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections import Counter
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

__all__ = [
    # Multi30k
    "MULTI30K_BASE_URL",
    "MULTI30K_SPLITS",
    "MULTI30K_LANGS",
    "DataDownloadError",
    "ChecksumError",
    "data_cache_dir",
    "download_file",
    "multi30k_file",
    "load_multi30k",
    # Anki / Tatoeba
    "read_tab_pairs",
    "split_pairs",
    # toy corpus
    "make_date_corpus",
    "char_tokenize",
    "SPACE_TOKEN",
    # tokenisers and vocabulary
    "Tokenizer",
    "PAD",
    "UNK",
    "SOS",
    "EOS",
    "SPECIALS",
    "Vocab",
    # batches
    "Batch",
    "TranslationDataset",
    "collate_batch",
    "BucketBatchSampler",
    "make_loader",
    # builders
    "TranslationData",
    "prepare_multi30k",
    "prepare_pairs",
]

Pair = tuple[str, str]

# ---------------------------------------------------------------------------------------
# 1. Multi30k: download, cache, verify
# ---------------------------------------------------------------------------------------

MULTI30K_BASE_URL = "https://raw.githubusercontent.com/multi30k/dataset/master/"
"""Canonical location of the Multi30k repository; files are at
``{base}data/task1/raw/{split}.{lang}.gz``. Override with ``$COURSE_DATA_URL``."""

MULTI30K_SPLITS: dict[str, int] = {
    "train": 29000,
    "val": 1014,
    "test_2016_flickr": 1000,
    "test_2017_flickr": 1000,
    "test_2017_mscoco": 461,
    "test_2018_flickr": 1071,
}
"""Multi30k task 1 splits and their number of sentence pairs (from the dataset's README)."""

MULTI30K_LANGS = ("de", "en", "fr")
"""Languages available for every Multi30k task-1 split (``cs`` exists only for some)."""

_MULTI30K_RAW = "data/task1/raw"
_CHUNK = 1 << 16


class DataDownloadError(OSError):
    """A corpus file could not be fetched (no network, wrong URL, missing mirror file).

    Attributes:
        url: the URL that failed.
    """

    def __init__(self, message: str, url: str):
        super().__init__(message)
        self.url = url


class ChecksumError(ValueError):
    """A downloaded file's SHA-256 differs from the one shipped with the course.

    The file is never kept. Attributes: ``path`` (where it would have gone),
    ``expected`` and ``actual`` (hex digests).
    """

    def __init__(self, message: str, path: Path, expected: str, actual: str):
        super().__init__(message)
        self.path = path
        self.expected = expected
        self.actual = actual


def data_cache_dir() -> Path:
    """The folder where downloaded corpora are cached (created if missing).

    ``$COURSE_DATA_DIR`` if set, else ``$XDG_CACHE_HOME/course_lib``, else
    ``~/.cache/course_lib``. Never inside the repository, so corpora are never committed.

    Returns:
        An absolute :class:`~pathlib.Path`.
    """
    env = os.environ.get("COURSE_DATA_DIR", "").strip()
    if env:
        path = Path(env).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
        base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
        path = base / "course_lib"
    path = path.resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def _multi30k_base_url() -> str:
    """``$COURSE_DATA_URL`` (a URL or a local folder) or :data:`MULTI30K_BASE_URL`, ending in ``/``."""
    base = os.environ.get("COURSE_DATA_URL", "").strip() or MULTI30K_BASE_URL
    if "://" not in base:  # a plain local path
        base = Path(base).expanduser().resolve().as_uri()
    if not base.endswith("/"):
        base += "/"
    return base


@functools.lru_cache(maxsize=None)
def _multi30k_checksums() -> dict[str, str]:
    """Relative path -> SHA-256 hex digest, from the package file ``checksums/multi30k.txt``."""
    text = resources.files("course_lib").joinpath("checksums/multi30k.txt").read_text(encoding="utf-8")
    sums: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        digest, rel = line.split(maxsplit=1)
        sums[rel.lstrip("*").strip()] = digest.lower()
    return sums


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def download_file(url: str, dest: Path, sha256: str, desc: str | None = None) -> Path:
    """Download ``url`` to ``dest`` and verify its SHA-256; reuse ``dest`` if already valid.

    If ``dest`` exists and its hash matches, nothing is downloaded. Otherwise the file is
    streamed (with a byte-counting tqdm progress bar) into a temporary file in the same
    folder, verified, and only then moved into place with :func:`os.replace`, so an
    interrupted or corrupt download never leaves a file at ``dest``; the temporary file is
    always removed. A stale ``dest`` whose hash does not match is replaced.

    Args:
        url: any URL :func:`urllib.request.urlopen` understands (``https://``, ``file://``).
        dest: where the file should end up; its folder is created if needed.
        sha256: the expected SHA-256 hex digest.
        desc: label for the progress bar (default: the file name).

    Returns:
        ``dest``.

    Raises:
        DataDownloadError: the URL could not be opened or read (message names the URL and
            how to point ``COURSE_DATA_URL`` at a mirror).
        ChecksumError: the downloaded bytes do not have the expected hash (not kept).
    """
    dest = Path(dest)
    expected = sha256.strip().lower()
    if dest.is_file():
        if _sha256(dest) == expected:
            return dest
        dest.unlink()  # stale or corrupt copy from elsewhere: fetch it again
    dest.parent.mkdir(parents=True, exist_ok=True)

    from tqdm.auto import tqdm

    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        h = hashlib.sha256()
        try:
            with urllib.request.urlopen(url, timeout=60) as response, os.fdopen(fd, "wb") as out:
                fd = -1  # now owned by ``out``
                total = response.headers.get("Content-Length") if response.headers else None
                with tqdm(
                    total=int(total) if total and str(total).isdigit() else None,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=desc or dest.name,
                    leave=False,
                ) as bar:
                    for chunk in iter(lambda: response.read(_CHUNK), b""):
                        out.write(chunk)
                        h.update(chunk)
                        bar.update(len(chunk))
        except (urllib.error.URLError, OSError, ValueError) as err:
            reason = getattr(err, "reason", None) or err
            raise DataDownloadError(
                f"could not download {url} ({reason}). Check your internet connection, or "
                "point the environment variable COURSE_DATA_URL at a mirror holding the same "
                "relative paths, e.g. COURSE_DATA_URL=file:///path/to/mirror/multi30k/ "
                "(a plain local folder works too).",
                url,
            ) from err
        actual = h.hexdigest()
        if actual != expected:
            raise ChecksumError(
                f"checksum mismatch for {dest.name} downloaded from {url}: expected SHA-256 "
                f"{expected}, got {actual}. The file was not kept. Retry the download; if it "
                "fails again, the mirror (COURSE_DATA_URL) or the upstream file has changed.",
                dest,
                expected,
                actual,
            )
        os.replace(tmp, dest)
        return dest
    finally:
        if fd != -1:
            os.close(fd)
        if tmp.exists():
            tmp.unlink()


def _check_split_langs(split: str, langs: Sequence[str]) -> None:
    if split not in MULTI30K_SPLITS:
        raise ValueError(f"unknown Multi30k split {split!r}; valid splits: {', '.join(MULTI30K_SPLITS)}")
    for lang in langs:
        if lang not in MULTI30K_LANGS:
            raise ValueError(f"unknown Multi30k language {lang!r}; valid languages: {', '.join(MULTI30K_LANGS)}")


def multi30k_file(split: str, lang: str) -> Path:
    """Path to the cached, verified ``{split}.{lang}.gz``, downloading it on first use.

    Source: ``{COURSE_DATA_URL or MULTI30K_BASE_URL}data/task1/raw/{split}.{lang}.gz``,
    cached under ``data_cache_dir()/multi30k/data/task1/raw/``.

    Raises:
        ValueError: unknown split or language (the message lists the valid ones).
        DataDownloadError, ChecksumError: see :func:`download_file`.
    """
    _check_split_langs(split, [lang])
    rel = f"{_MULTI30K_RAW}/{split}.{lang}.gz"
    sums = _multi30k_checksums()
    if rel not in sums:  # pragma: no cover - the shipped checksum file covers every file
        raise KeyError(f"no checksum for {rel} in course_lib/checksums/multi30k.txt")
    url = _multi30k_base_url() + rel
    dest = data_cache_dir() / "multi30k" / rel
    return download_file(url, dest, sums[rel], desc=f"Multi30k {split}.{lang}")


def _read_gz_lines(path: Path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        text = f.read()
    # split on "\n" only: str.splitlines() would also split on rare Unicode separators
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.strip() for line in lines]


def load_multi30k(split: str, src_lang: str = "de", tgt_lang: str = "en") -> list[Pair]:
    """Aligned Multi30k task-1 sentence pairs for ``split``, source -> target.

    Downloads (and verifies) both files on first use; later calls read the cache.
    Source: Elliott et al. 2016, https://github.com/multi30k/dataset (``data/task1/raw``).

    Args:
        split: one of :data:`MULTI30K_SPLITS` (``"train"``, ``"val"``, ``"test_2016_flickr"``, ...).
        src_lang, tgt_lang: two different codes from :data:`MULTI30K_LANGS`.

    Returns:
        ``MULTI30K_SPLITS[split]`` pairs ``(source_sentence, target_sentence)`` of
        whitespace-stripped, untokenised strings, in corpus order.

    Raises:
        ValueError: unknown split or language, ``src_lang == tgt_lang``, or the two files
            have different or unexpected numbers of lines.
        DataDownloadError, ChecksumError: see :func:`download_file`.
    """
    _check_split_langs(split, [src_lang, tgt_lang])
    if src_lang == tgt_lang:
        raise ValueError(f"src_lang and tgt_lang are both {src_lang!r}; choose two different languages")
    src = _read_gz_lines(multi30k_file(split, src_lang))
    tgt = _read_gz_lines(multi30k_file(split, tgt_lang))
    if len(src) != len(tgt):
        raise ValueError(
            f"Multi30k {split}: {split}.{src_lang}.gz has {len(src)} lines but {split}.{tgt_lang}.gz "
            f"has {len(tgt)}; the files are not aligned. Delete {data_cache_dir() / 'multi30k'} and retry."
        )
    expected = MULTI30K_SPLITS[split]
    if len(src) != expected:
        raise ValueError(
            f"Multi30k {split} has {len(src)} pairs, expected {expected}. "
            f"Delete {data_cache_dir() / 'multi30k'} and retry, or check the mirror (COURSE_DATA_URL)."
        )
    return list(zip(src, tgt))


# ---------------------------------------------------------------------------------------
# 2. Anki / Tatoeba tab-separated pairs
# ---------------------------------------------------------------------------------------


def read_tab_pairs(path: str | os.PathLike, max_pairs: int | None = None) -> list[Pair]:
    """Read sentence pairs from an Anki/Tatoeba file (``english<TAB>other[<TAB>attribution]``).

    Both layouts published at https://www.manythings.org/anki/ are accepted: the older
    two-column one and the newer one whose third column is a CC-BY attribution (dropped).
    Blank lines are skipped; each field is whitespace-stripped. Source: Tatoeba
    (tatoeba.org), CC-BY 2.0 France.

    Args:
        path: the unzipped text file, e.g. ``mar.txt`` from ``mar-eng.zip``.
        max_pairs: stop after this many pairs (``None``: read all).

    Returns:
        ``(english, other)`` pairs in file order. Swap them (``[(b, a) for a, b in pairs]``)
        to translate *into* English.

    Raises:
        FileNotFoundError: ``path`` does not exist (the message says where to get it).
        ValueError: a non-blank line has fewer than two tab-separated columns (the message
            names the file and line number), or ``max_pairs`` is negative.
    """
    path = Path(path)
    if max_pairs is not None and max_pairs < 0:
        raise ValueError(f"max_pairs must be >= 0 or None, got {max_pairs}")
    if not path.is_file():
        raise FileNotFoundError(
            f"no sentence-pair file at {path}. Download the language's zip from "
            "https://www.manythings.org/anki/ (e.g. mar-eng.zip) and unzip it, or use the "
            "offline mirror's copy (e.g. ../shared/data/anki/mar.txt beside the repository)."
        )
    pairs: list[Pair] = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if max_pairs is not None and len(pairs) >= max_pairs:
                break
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            cols = line.split("\t")
            if len(cols) < 2:
                raise ValueError(
                    f"{path}, line {lineno}: expected 'english<TAB>translation' (optionally a "
                    f"third attribution column) but found {len(cols)} column(s): {line[:80]!r}"
                )
            pairs.append((cols[0].strip(), cols[1].strip()))
    return pairs


def split_pairs(
    pairs: Sequence[Any], val_fraction: float = 0.05, test_fraction: float = 0.05, seed: int = 0
) -> dict[str, list]:
    """Shuffle ``pairs`` with a seeded RNG and cut them into train / val / test.

    Sizes: ``n_test = round(n * test_fraction)``, ``n_val = round(n * val_fraction)``,
    ``n_train = n - n_val - n_test``. The three lists are disjoint by position and together
    hold every input item exactly once (identical duplicate pairs in the input may of
    course land in different splits). The same ``seed`` gives the same split.

    Returns:
        ``{"train": [...], "val": [...], "test": [...]}``.

    Raises:
        ValueError: a fraction is outside ``[0, 1)`` or the two sum to 1 or more.
    """
    for name, frac in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0 <= frac < 1:
            raise ValueError(f"{name} must be in [0, 1), got {frac}")
    if val_fraction + test_fraction >= 1:
        raise ValueError(
            f"val_fraction + test_fraction = {val_fraction + test_fraction} leaves no training data; keep it below 1"
        )
    items = list(pairs)
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    n_test = round(len(items) * test_fraction)
    n_val = round(len(items) * val_fraction)
    test = [items[i] for i in order[:n_test]]
    val = [items[i] for i in order[n_test : n_test + n_val]]
    train = [items[i] for i in order[n_test + n_val :]]
    return {"train": train, "val": val, "test": test}


# ---------------------------------------------------------------------------------------
# 3. Toy corpus: dates -> ISO 8601
# ---------------------------------------------------------------------------------------

SPACE_TOKEN = "▁"
"""The visible token :func:`char_tokenize` uses for a space (U+2581, as in SentencePiece)."""

_MONTHS = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]  # fmt: skip
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


# Each format turns a date into one written form. Two-digit years are unambiguous because
# the corpus spans exactly 1950-2049 (50-99 -> 19xx, 00-49 -> 20xx).
_DATE_FORMATS: list[Callable[[_dt.date], str]] = [
    lambda d: f"{d.day} {_MONTHS[d.month - 1].lower()} {d.year}",  # 3 march 1998
    lambda d: f"{_DAYS[d.weekday()][:3]}, {_MONTHS[d.month - 1][:3]} {d.day}, {d.year}",  # Tue, Mar 3, 1998
    lambda d: f"{d.month:02d}/{d.day:02d}/{d.year % 100:02d}",  # 03/03/98 (US month/day/year)
    lambda d: f"{_MONTHS[d.month - 1]} {d.day}, {d.year}",  # March 3, 1998
    lambda d: f"{d.day}.{d.month}.{d.year}",  # 3.3.1998 (day.month.year)
    lambda d: f"{_DAYS[d.weekday()]}, {d.day} {_MONTHS[d.month - 1]} {d.year}",  # Tuesday, 3 March 1998
    lambda d: f"the {_ordinal(d.day)} of {_MONTHS[d.month - 1].lower()} {d.year}",  # the 3rd of march 1998
    lambda d: f"{_MONTHS[d.month - 1][:3].upper()} {d.day:02d} {d.year}",  # MAR 03 1998
    lambda d: f"{d.day:02d} {_MONTHS[d.month - 1][:3]} {d.year % 100:02d}",  # 03 Mar 98
    lambda d: f"{_DAYS[d.weekday()].lower()} {_MONTHS[d.month - 1].lower()} {_ordinal(d.day)}, {d.year}",
]


def make_date_corpus(n: int, seed: int = 0) -> list[Pair]:
    """Generate ``n`` (written date, ISO date) pairs: a toy translation task, no download.

    Dates are drawn uniformly from 1950-01-01 to 2049-12-31 and written in one of ten
    forms, e.g. ``"3 march 1998"``, ``"Tue, Mar 3, 1998"``, ``"03/03/98"`` (US
    month/day/year), ``"3.3.1998"`` (day.month.year), ``"the 3rd of march 1998"``,
    ``"MAR 03 1998"``; the target is always ``"1998-03-03"``. Same ``n`` and ``seed``, same
    corpus (English names are built in, so the system locale does not matter).

    Raises:
        ValueError: ``n`` is negative.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = random.Random(seed)
    first = _dt.date(1950, 1, 1).toordinal()
    last = _dt.date(2049, 12, 31).toordinal()
    pairs = []
    for _ in range(n):
        date = _dt.date.fromordinal(rng.randint(first, last))
        fmt = rng.choice(_DATE_FORMATS)
        pairs.append((fmt(date), date.isoformat()))
    return pairs


def char_tokenize(text: str) -> list[str]:
    """Split ``text`` into characters, spaces shown as :data:`SPACE_TOKEN` (``"▁"``).

    ``"3 may"`` -> ``["3", "▁", "m", "a", "y"]``; ``"".join(tokens).replace("▁", " ")``
    gives the text back.
    """
    return [SPACE_TOKEN if c == " " else c for c in text]


# ---------------------------------------------------------------------------------------
# 4. Tokenisers
# ---------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _blank_nlp(lang: str):
    """spaCy's blank pipeline for ``lang`` (rule-based tokeniser only), loaded once."""
    import spacy

    try:
        return spacy.blank(lang)
    except (ImportError, KeyError, ValueError) as err:
        raise ValueError(
            f"spaCy has no blank tokenizer for language {lang!r}. Use an ISO 639-1 code that "
            "spaCy ships a blank language for, e.g. 'de', 'en', 'fr', 'mr', or 'xx' for a "
            "language-neutral one (list: https://spacy.io/usage/models#languages)."
        ) from err


class Tokenizer:
    """Rule-based word tokeniser for one language: spaCy's ``spacy.blank(lang)``.

    No model download is needed; each language gets its own rules (German keeps ``"im"``
    as one token, the English rules would split it as if it were ``"I'm"``). Whitespace
    tokens are dropped; with ``lower=True`` tokens are lower-cased *after* tokenising, so
    case-sensitive exceptions still apply.

    Args:
        lang: a spaCy language code (``"de"``, ``"en"``, ``"fr"``, ``"mr"``, ...).
        lower: lower-case every token (default ``True``).

    The spaCy pipeline is loaded on construction (not at import) and cached per language.
    A :class:`Tokenizer` pickles cheaply (only ``lang`` and ``lower``).

    Raises:
        ValueError: spaCy has no blank language for ``lang``.
    """

    def __init__(self, lang: str, lower: bool = True):
        self.lang = lang
        self.lower = lower
        _blank_nlp(lang)  # validate now, with a clear error

    @property
    def nlp(self):
        """The cached spaCy ``Language`` object behind this tokeniser."""
        return _blank_nlp(self.lang)

    def _words(self, doc) -> list[str]:
        return [(t.lower_ if self.lower else t.text) for t in doc if not t.is_space]

    def __call__(self, text: str) -> list[str]:
        """Tokenise one sentence into a list of token strings.

        Raises:
            TypeError: ``text`` is not a str (use :meth:`tokenize_many` for a list).
        """
        if not isinstance(text, str):
            raise TypeError(f"Tokenizer expects a str, got {type(text).__name__}; use tokenize_many for a list")
        return self._words(self.nlp.tokenizer(text))

    def tokenize_many(self, texts: Iterable[str]) -> list[list[str]]:
        """Tokenise many sentences (streams them through ``nlp.tokenizer.pipe``; fast)."""
        return [self._words(doc) for doc in self.nlp.tokenizer.pipe(texts, batch_size=1000)]

    def __repr__(self) -> str:
        return f"Tokenizer(lang={self.lang!r}, lower={self.lower})"

    def __getstate__(self):
        return {"lang": self.lang, "lower": self.lower}

    def __setstate__(self, state):
        self.lang = state["lang"]
        self.lower = state["lower"]


def _tokenize_all(tokenizer: Callable[[str], list[str]], texts: Sequence[str]) -> list[list[str]]:
    many = getattr(tokenizer, "tokenize_many", None)
    if callable(many):
        return [list(t) for t in many(texts)]
    return [list(tokenizer(t)) for t in texts]


# ---------------------------------------------------------------------------------------
# 5. Vocabulary
# ---------------------------------------------------------------------------------------

PAD = "<pad>"
UNK = "<unk>"
SOS = "<sos>"
EOS = "<eos>"
SPECIALS = (PAD, UNK, SOS, EOS)
"""Special tokens, always at ids 0, 1, 2, 3 in this order."""

_VOCAB_FORMAT = "course_lib.Vocab"


class Vocab:
    """A token <-> id mapping whose first four entries are ``<pad> <unk> <sos> <eos>``.

    Build one from training data with :meth:`build`, or from a list with ``Vocab(itos)``.

    Attributes:
        itos: list, id -> token.
        stoi: dict, token -> id.

    ``vocab[token]`` gives the id (``unk_id`` for unknown tokens); ``token in vocab`` and
    ``len(vocab)`` (= ``V``) work as expected.

    Raises:
        ValueError (constructor): ``itos`` does not start with :data:`SPECIALS`, has
            duplicates, or holds something other than strings.
    """

    def __init__(self, itos: Sequence[str]):
        itos = list(itos)
        if tuple(itos[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(
                f"a Vocab must start with the special tokens {list(SPECIALS)} (ids 0-3), got "
                f"{itos[: len(SPECIALS)]}; use Vocab.build(...) or prepend them"
            )
        bad = [t for t in itos if not isinstance(t, str)]
        if bad:
            raise ValueError(f"Vocab tokens must be strings, got e.g. {bad[0]!r}")
        stoi = {tok: i for i, tok in enumerate(itos)}
        if len(stoi) != len(itos):
            dupes = sorted({t for t, c in Counter(itos).items() if c > 1})
            raise ValueError(f"Vocab has duplicate tokens: {dupes[:10]}")
        self.itos: list[str] = itos
        self.stoi: dict[str, int] = stoi

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]], min_freq: int = 2, max_size: int | None = None) -> Vocab:
        """Count tokens and keep the frequent ones.

        Tokens are ordered by frequency (descending), ties alphabetically, so the result is
        deterministic. Special tokens found in the data are not counted.

        Args:
            token_lists: tokenised sentences, e.g. ``[["a", "dog"], ["a", "cat"]]``.
            min_freq: keep tokens seen at least this many times (>= 1).
            max_size: cap on the *total* size ``V`` including the 4 specials (``None``: no cap).

        Raises:
            ValueError: ``min_freq < 1`` or ``max_size < 4``; TypeError if a sentence is a
                plain string (tokenise it first).
        """
        if min_freq < 1:
            raise ValueError(f"min_freq must be >= 1, got {min_freq}")
        if max_size is not None and max_size < len(SPECIALS):
            raise ValueError(f"max_size must be >= {len(SPECIALS)} (the special tokens), got {max_size}")
        counts: Counter[str] = Counter()
        for tokens in token_lists:
            if isinstance(tokens, str):
                raise TypeError("Vocab.build expects lists of tokens, got a str; tokenise the sentences first")
            counts.update(tokens)
        for special in SPECIALS:
            counts.pop(special, None)
        kept = sorted((tok for tok, c in counts.items() if c >= min_freq), key=lambda t: (-counts[t], t))
        if max_size is not None:
            kept = kept[: max_size - len(SPECIALS)]
        return cls(list(SPECIALS) + kept)

    # -- mapping ------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return token in self.stoi

    def __getitem__(self, token: str) -> int:
        return self.stoi.get(token, 1)

    @property
    def pad_id(self) -> int:
        """Id of ``<pad>`` (0)."""
        return 0

    @property
    def unk_id(self) -> int:
        """Id of ``<unk>`` (1)."""
        return 1

    @property
    def sos_id(self) -> int:
        """Id of ``<sos>`` (2)."""
        return 2

    @property
    def eos_id(self) -> int:
        """Id of ``<eos>`` (3)."""
        return 3

    def encode(self, tokens: Sequence[str], add_sos_eos: bool = True) -> list[int]:
        """Map tokens to ids (unknown -> ``unk_id``), optionally wrapped in ``<sos> ... <eos>``.

        Raises:
            TypeError: ``tokens`` is a str (tokenise it first, or you would encode characters).
        """
        if isinstance(tokens, str):
            raise TypeError("Vocab.encode expects a list of tokens, got a str; tokenise it first")
        ids = [self.stoi.get(t, 1) for t in tokens]
        return [self.sos_id, *ids, self.eos_id] if add_sos_eos else ids

    def decode(self, ids: Sequence[int] | torch.Tensor, strip_special: bool = True, stop_at_eos: bool = True) -> list[str]:
        """Map ids back to tokens.

        Args:
            ids: a list of ints or a 1-D integer tensor (any device).
            strip_special: drop ``<pad>``, ``<sos>`` and ``<eos>`` (``<unk>`` is kept, since it
                carries information).
            stop_at_eos: stop at the first ``<eos>``.

        Raises:
            ValueError: a tensor that is not 1-D. IndexError: an id outside ``[0, V)``.
        """
        if isinstance(ids, torch.Tensor):
            if ids.dim() != 1:
                raise ValueError(f"decode expects a 1-D tensor of ids, got shape {tuple(ids.shape)}; decode rows one by one")
            ids = ids.tolist()
        out = []
        drop = {self.pad_id, self.sos_id, self.eos_id} if strip_special else set()
        for i in ids:
            i = int(i)
            if stop_at_eos and i == self.eos_id:
                break
            if i in drop:
                continue
            if not 0 <= i < len(self.itos):
                raise IndexError(f"id {i} is outside this vocabulary (size {len(self.itos)})")
            out.append(self.itos[i])
        return out

    # -- persistence --------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write the vocabulary as JSON, atomically (temp file + :func:`os.replace`). Returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"format": _VOCAB_FORMAT, "version": 1, "itos": self.itos}
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(payload, f, ensure_ascii=False)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vocab:
        """Read a vocabulary written by :meth:`save`.

        Raises:
            FileNotFoundError: no such file. ValueError: the file is not a saved ``Vocab``.
        """
        path = Path(path)
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"{path} is not a course_lib vocabulary file (not valid JSON): {err}") from err
        if not isinstance(payload, dict) or payload.get("format") != _VOCAB_FORMAT or not isinstance(payload.get("itos"), list):
            raise ValueError(f"{path} is not a course_lib vocabulary file (write one with Vocab.save)")
        return cls(payload["itos"])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocab):
            return NotImplemented
        return self.itos == other.itos

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        preview = ", ".join(self.itos[4:10])
        return f"Vocab(size={len(self)}, specials={list(SPECIALS)}, most frequent=[{preview}{', ...' if len(self) > 10 else ''}])"


# ---------------------------------------------------------------------------------------
# 6. Datasets, batches, bucketing
# ---------------------------------------------------------------------------------------


@dataclass
class Batch:
    """A padded, batch-first mini-batch.

    Attributes:
        src: LongTensor ``[B, S]``: source ids, each row ``tokens... <eos>`` then ``<pad>``.
        src_lens: LongTensor ``[B]``: source lengths in tokens (``<eos>`` included).
        tgt: LongTensor ``[B, T]``: target ids, each row ``<sos> tokens... <eos>`` then ``<pad>``.
            Teacher forcing feeds ``tgt[:, :-1]`` and predicts ``tgt[:, 1:]``.
        tgt_lens: LongTensor ``[B]``: target lengths in tokens (``<sos>`` and ``<eos>`` included).
    """

    src: torch.Tensor
    src_lens: torch.Tensor
    tgt: torch.Tensor
    tgt_lens: torch.Tensor

    @property
    def src_pad_mask(self) -> torch.Tensor:
        """BoolTensor ``[B, S]``, True where ``src`` is padding (computed from ``src_lens``)."""
        positions = torch.arange(self.src.shape[1], device=self.src.device)
        return positions.unsqueeze(0) >= self.src_lens.to(self.src.device).unsqueeze(1)

    @property
    def num_tgt_tokens(self) -> int:
        """Number of target tokens the decoder predicts: ``sum(tgt_lens) - B`` (no ``<sos>``, no padding)."""
        return int(self.tgt_lens.sum().item()) - len(self)

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        """A copy of the batch on ``device`` (all four tensors, ``src_lens`` included)."""
        return Batch(
            src=self.src.to(device, non_blocking=non_blocking),
            src_lens=self.src_lens.to(device, non_blocking=non_blocking),
            tgt=self.tgt.to(device, non_blocking=non_blocking),
            tgt_lens=self.tgt_lens.to(device, non_blocking=non_blocking),
        )

    def __len__(self) -> int:
        return self.src.shape[0]


class TranslationDataset(Dataset):
    """Tokenised, encoded sentence pairs, ready for :func:`collate_batch`.

    Encoding: source = ``tokens + [<eos>]``; target = ``[<sos>] + tokens + [<eos>]``.

    No silent truncation: with ``max_len``, a pair whose source *or* target has more than
    ``max_len`` tokens (not counting ``<sos>``/``<eos>``) is dropped; the count is stored in
    :attr:`num_dropped` and reported with :func:`warnings.warn`.

    Args:
        pairs: ``(source_sentence, target_sentence)`` strings.
        src_tokenizer, tgt_tokenizer: callables ``str -> list[str]``; a ``tokenize_many``
            method is used when present (faster).
        src_vocab, tgt_vocab: :class:`Vocab` objects.
        max_len: maximum tokens per side, or ``None`` to keep everything.
        src_tokens, tgt_tokens: optional, already-tokenised ``pairs`` (one list per pair),
            to skip tokenising again (used by :func:`prepare_pairs`).

    Attributes:
        pairs, src_tokens, tgt_tokens, src_ids, tgt_ids: parallel lists for the kept pairs.
        num_dropped: pairs removed by ``max_len``.

    Raises:
        ValueError: ``max_len < 1``, or the pre-tokenised lists do not match ``pairs``.
    """

    def __init__(
        self,
        pairs: Sequence[Pair],
        src_tokenizer: Callable[[str], list[str]],
        tgt_tokenizer: Callable[[str], list[str]],
        src_vocab: Vocab,
        tgt_vocab: Vocab,
        max_len: int | None = None,
        *,
        src_tokens: Sequence[list[str]] | None = None,
        tgt_tokens: Sequence[list[str]] | None = None,
    ):
        if max_len is not None and max_len < 1:
            raise ValueError(f"max_len must be >= 1 or None, got {max_len}")
        pairs = [(s, t) for s, t in pairs]
        if src_tokens is None:
            src_tokens = _tokenize_all(src_tokenizer, [s for s, _ in pairs])
        if tgt_tokens is None:
            tgt_tokens = _tokenize_all(tgt_tokenizer, [t for _, t in pairs])
        if len(src_tokens) != len(pairs) or len(tgt_tokens) != len(pairs):
            raise ValueError(
                f"got {len(pairs)} pairs but {len(src_tokens)} source and {len(tgt_tokens)} target token lists"
            )
        keep = range(len(pairs))
        if max_len is not None:
            keep = [i for i in keep if len(src_tokens[i]) <= max_len and len(tgt_tokens[i]) <= max_len]
        self.num_dropped = len(pairs) - len(keep)
        if self.num_dropped:
            warnings.warn(
                f"TranslationDataset: dropped {self.num_dropped} of {len(pairs)} pairs with more than "
                f"max_len={max_len} tokens on a side (kept {len(keep)}); raise max_len to keep them",
                stacklevel=2,
            )
        self.max_len = max_len
        self.src_vocab = src_vocab
        self.tgt_vocab = tgt_vocab
        self.pairs: list[Pair] = [pairs[i] for i in keep]
        self.src_tokens: list[list[str]] = [list(src_tokens[i]) for i in keep]
        self.tgt_tokens: list[list[str]] = [list(tgt_tokens[i]) for i in keep]
        self.src_ids: list[list[int]] = [src_vocab.encode(t, add_sos_eos=False) + [src_vocab.eos_id] for t in self.src_tokens]
        self.tgt_ids: list[list[int]] = [tgt_vocab.encode(t, add_sos_eos=True) for t in self.tgt_tokens]

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> tuple[list[int], list[int]]:
        """``(src_ids, tgt_ids)`` of pair ``i``."""
        return self.src_ids[i], self.tgt_ids[i]

    def src_lengths(self) -> list[int]:
        """Encoded source length of every pair (``<eos>`` included), for bucketing."""
        return [len(s) for s in self.src_ids]

    def __repr__(self) -> str:
        return f"TranslationDataset({len(self)} pairs, dropped={self.num_dropped}, max_len={self.max_len})"


def collate_batch(examples: Sequence[tuple[Sequence[int], Sequence[int]]], pad_id: int = 0) -> Batch:
    """Pad ``(src_ids, tgt_ids)`` examples into a batch-first :class:`Batch`.

    Args:
        examples: ``B`` pairs of id lists (or 1-D tensors), e.g. from :class:`TranslationDataset`.
        pad_id: padding id (``Vocab.pad_id``, 0).

    Returns:
        :class:`Batch` with ``src`` ``[B, S]``, ``tgt`` ``[B, T]`` (``S``, ``T`` = longest in
        the batch), ``src_lens`` and ``tgt_lens`` ``[B]``, all ``torch.long`` on the CPU.

    Raises:
        ValueError: ``examples`` is empty or holds an empty sequence.
    """
    if len(examples) == 0:
        raise ValueError("collate_batch got no examples")
    srcs = [torch.as_tensor(s, dtype=torch.long) for s, _ in examples]
    tgts = [torch.as_tensor(t, dtype=torch.long) for _, t in examples]
    if any(x.numel() == 0 for x in srcs + tgts):
        raise ValueError("collate_batch got an empty sequence; every source and target needs at least one id")
    src_lens = torch.tensor([len(s) for s in srcs], dtype=torch.long)
    tgt_lens = torch.tensor([len(t) for t in tgts], dtype=torch.long)
    src = torch.full((len(srcs), int(src_lens.max())), pad_id, dtype=torch.long)
    tgt = torch.full((len(tgts), int(tgt_lens.max())), pad_id, dtype=torch.long)
    for i, (s, t) in enumerate(zip(srcs, tgts)):
        src[i, : len(s)] = s
        tgt[i, : len(t)] = t
    return Batch(src=src, src_lens=src_lens, tgt=tgt, tgt_lens=tgt_lens)


class BucketBatchSampler(Sampler[list[int]]):
    """Yield batches of indices whose examples have similar lengths (less padding).

    With ``shuffle=True``, each epoch: permute all indices, cut the permutation into chunks
    of ``batch_size * bucket_multiplier``, sort each chunk by length, cut it into batches,
    and shuffle the order of all batches. The RNG is seeded from ``(seed, epoch)``, and every
    call to ``__iter__`` uses the current epoch and then advances it, so consecutive epochs
    differ and a rerun with the same seed repeats them; :meth:`set_epoch` sets it
    explicitly (e.g. when resuming). With ``shuffle=False``: indices sorted by length (ties
    by index), cut into batches, in that order: deterministic.

    Every index appears exactly once per epoch; every batch has at most ``batch_size``
    indices (only one batch per chunk can be smaller).

    Args:
        lengths: length of each example (e.g. :meth:`TranslationDataset.src_lengths`).
        batch_size: examples per batch (>= 1).
        shuffle, seed: see above.
        bucket_multiplier: batches per sorted chunk (>= 1); larger means less padding but
            less randomness.

    Raises:
        ValueError: ``batch_size`` or ``bucket_multiplier`` below 1.
    """

    def __init__(
        self, lengths: Sequence[int], batch_size: int, shuffle: bool = True, seed: int = 0, bucket_multiplier: int = 50
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if bucket_multiplier < 1:
            raise ValueError(f"bucket_multiplier must be >= 1, got {bucket_multiplier}")
        self.lengths = np.asarray(list(lengths), dtype=np.int64)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.seed = seed
        self.bucket_multiplier = int(bucket_multiplier)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Use ``epoch`` for the next ``__iter__`` (then it advances by one per iteration)."""
        self.epoch = int(epoch)

    def _batches(self, epoch: int) -> list[list[int]]:
        n, bs = len(self.lengths), self.batch_size
        if not self.shuffle:
            order = np.argsort(self.lengths, kind="stable")
            return [order[i : i + bs].tolist() for i in range(0, n, bs)]
        rng = np.random.default_rng([self.seed, epoch])
        perm = rng.permutation(n)
        chunk = bs * self.bucket_multiplier
        batches = []
        for start in range(0, n, chunk):
            idx = perm[start : start + chunk]
            idx = idx[np.argsort(self.lengths[idx], kind="stable")]
            batches.extend(idx[i : i + bs].tolist() for i in range(0, len(idx), bs))
        return [batches[i] for i in rng.permutation(len(batches))]

    def __iter__(self) -> Iterator[list[int]]:
        epoch = self.epoch
        self.epoch += 1
        yield from self._batches(epoch)

    def __len__(self) -> int:
        return math.ceil(len(self.lengths) / self.batch_size)


def make_loader(
    dataset: TranslationDataset, batch_size: int, shuffle: bool = True, bucket: bool = True, seed: int = 0
) -> DataLoader:
    """A :class:`~torch.utils.data.DataLoader` of :class:`Batch` objects over ``dataset``.

    ``bucket=True`` batches by source length with :class:`BucketBatchSampler` (reach it as
    ``loader.batch_sampler``); ``bucket=False`` gives plain batches in dataset order, or
    shuffled by a generator seeded with ``seed`` when ``shuffle``. ``num_workers=0``
    (tokenising is done up front, so workers would only add start-up time). Batches are
    on the CPU; move them with ``batch.to(device)``.

    Raises:
        ValueError: ``batch_size`` below 1.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    collate = functools.partial(collate_batch, pad_id=dataset.tgt_vocab.pad_id)
    if bucket:
        sampler = BucketBatchSampler(dataset.src_lengths(), batch_size, shuffle=shuffle, seed=seed)
        return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate, num_workers=0)
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator, collate_fn=collate, num_workers=0)


# ---------------------------------------------------------------------------------------
# 7. One-call builders
# ---------------------------------------------------------------------------------------


@dataclass
class TranslationData:
    """Everything a lesson needs: three datasets, two vocabularies, two tokenisers.

    Attributes:
        train, val, test: :class:`TranslationDataset` splits.
        src_vocab, tgt_vocab: built on the training split only.
        src_tokenizer, tgt_tokenizer: callables ``str -> list[str]``.
        src_lang, tgt_lang: language codes (or labels such as ``"date"``).
    """

    train: TranslationDataset
    val: TranslationDataset
    test: TranslationDataset
    src_vocab: Vocab
    tgt_vocab: Vocab
    src_tokenizer: Callable[[str], list[str]]
    tgt_tokenizer: Callable[[str], list[str]]
    src_lang: str
    tgt_lang: str

    def describe(self) -> str:
        """A short text table: pairs per split, vocabulary sizes, mean token lengths."""
        lines = [f"{self.src_lang} -> {self.tgt_lang}"]
        lines.append(f"  {'split':<6}{'pairs':>8}{'mean src len':>14}{'mean tgt len':>14}")
        for name in ("train", "val", "test"):
            ds: TranslationDataset = getattr(self, name)
            ms = sum(map(len, ds.src_tokens)) / max(len(ds), 1)
            mt = sum(map(len, ds.tgt_tokens)) / max(len(ds), 1)
            dropped = f"  ({ds.num_dropped} dropped by max_len)" if ds.num_dropped else ""
            lines.append(f"  {name:<6}{len(ds):>8}{ms:>14.1f}{mt:>14.1f}{dropped}")
        lines.append(f"  vocab: {self.src_lang} {len(self.src_vocab)} tokens, {self.tgt_lang} {len(self.tgt_vocab)} tokens")
        lines.append("  (lengths in tokens, without <sos>/<eos>)")
        return "\n".join(lines)


def _build_data(
    splits: dict[str, Sequence[Pair]],
    src_tokenizer: Callable[[str], list[str]],
    tgt_tokenizer: Callable[[str], list[str]],
    *,
    min_freq: int,
    max_len: int | None,
    src_lang: str,
    tgt_lang: str,
) -> TranslationData:
    tokens = {}
    for name, pairs in splits.items():
        tokens[name] = (
            _tokenize_all(src_tokenizer, [s for s, _ in pairs]),
            _tokenize_all(tgt_tokenizer, [t for _, t in pairs]),
        )
    # vocabularies come from the training pairs that survive max_len
    src_tr, tgt_tr = tokens["train"]
    kept = [
        i for i in range(len(src_tr)) if max_len is None or (len(src_tr[i]) <= max_len and len(tgt_tr[i]) <= max_len)
    ]
    src_vocab = Vocab.build((src_tr[i] for i in kept), min_freq=min_freq)
    tgt_vocab = Vocab.build((tgt_tr[i] for i in kept), min_freq=min_freq)
    datasets = {}
    for name, pairs in splits.items():
        datasets[name] = TranslationDataset(
            pairs,
            src_tokenizer,
            tgt_tokenizer,
            src_vocab,
            tgt_vocab,
            max_len=max_len if name == "train" else None,
            src_tokens=tokens[name][0],
            tgt_tokens=tokens[name][1],
        )
    return TranslationData(
        train=datasets["train"],
        val=datasets["val"],
        test=datasets["test"],
        src_vocab=src_vocab,
        tgt_vocab=tgt_vocab,
        src_tokenizer=src_tokenizer,
        tgt_tokenizer=tgt_tokenizer,
        src_lang=src_lang,
        tgt_lang=tgt_lang,
    )


def prepare_pairs(
    train_pairs: Sequence[Pair],
    val_pairs: Sequence[Pair],
    test_pairs: Sequence[Pair],
    src_tokenizer: Callable[[str], list[str]],
    tgt_tokenizer: Callable[[str], list[str]],
    *,
    min_freq: int = 1,
    max_len: int | None = None,
    src_lang: str | None = None,
    tgt_lang: str | None = None,
) -> TranslationData:
    """Tokenise given splits, build vocabularies on ``train`` and wrap all three as datasets.

    Used for the Anki pairs (with :func:`split_pairs`) and the toy date corpus (with
    :func:`char_tokenize`). ``max_len`` filters the *training* split only (with a warning,
    see :class:`TranslationDataset`); validation and test sets are never filtered, so scores
    stay comparable. Vocabularies are built on the kept training pairs.

    Args:
        src_lang, tgt_lang: labels for :meth:`TranslationData.describe`; default: the
            tokeniser's ``lang`` attribute, else ``"src"`` / ``"tgt"``.

    Raises:
        ValueError: ``min_freq < 1`` or ``max_len < 1``.
    """
    return _build_data(
        {"train": train_pairs, "val": val_pairs, "test": test_pairs},
        src_tokenizer,
        tgt_tokenizer,
        min_freq=min_freq,
        max_len=max_len,
        src_lang=src_lang or getattr(src_tokenizer, "lang", None) or "src",
        tgt_lang=tgt_lang or getattr(tgt_tokenizer, "lang", None) or "tgt",
    )


def prepare_multi30k(
    src_lang: str = "de",
    tgt_lang: str = "en",
    *,
    lower: bool = True,
    min_freq: int = 2,
    max_train_pairs: int | None = None,
    max_eval_pairs: int | None = None,
    max_len: int | None = None,
    test_split: str = "test_2016_flickr",
    seed: int = 0,
) -> TranslationData:
    """Multi30k ready to train on: load, subset, tokenise, build vocabularies and datasets.

    Steps: :func:`load_multi30k` for ``train``, ``val`` and ``test_split`` (downloading on
    first use); keep a seeded random subset of ``max_train_pairs`` training pairs (in corpus
    order) and the *first* ``max_eval_pairs`` of val and test; tokenise with a spaCy blank
    :class:`Tokenizer` per language; build both vocabularies on the (subset) training data
    with ``min_freq``. ``max_len`` drops over-long *training* pairs (see
    :func:`prepare_pairs`). The full corpus takes a few seconds on two CPU cores.

    Source: Elliott et al. 2016 (Multi30k), https://github.com/multi30k/dataset.

    Raises:
        ValueError: unknown language or split, equal languages, ``test_split == "train"``,
            or a negative ``max_*_pairs``.
        DataDownloadError, ChecksumError: see :func:`download_file`.
    """
    _check_split_langs(test_split, [src_lang, tgt_lang])
    if src_lang == tgt_lang:
        raise ValueError(f"src_lang and tgt_lang are both {src_lang!r}; choose two different languages")
    if test_split == "train":
        raise ValueError("test_split must not be 'train'; use e.g. 'test_2016_flickr'")
    for name, value in (("max_train_pairs", max_train_pairs), ("max_eval_pairs", max_eval_pairs)):
        if value is not None and value < 0:
            raise ValueError(f"{name} must be >= 0 or None, got {value}")
    train = load_multi30k("train", src_lang, tgt_lang)
    val = load_multi30k("val", src_lang, tgt_lang)
    test = load_multi30k(test_split, src_lang, tgt_lang)
    if max_train_pairs is not None and max_train_pairs < len(train):
        keep = sorted(random.Random(seed).sample(range(len(train)), max_train_pairs))
        train = [train[i] for i in keep]
    if max_eval_pairs is not None:
        val, test = val[:max_eval_pairs], test[:max_eval_pairs]
    return _build_data(
        {"train": train, "val": val, "test": test},
        Tokenizer(src_lang, lower=lower),
        Tokenizer(tgt_lang, lower=lower),
        min_freq=min_freq,
        max_len=max_len,
        src_lang=src_lang,
        tgt_lang=tgt_lang,
    )
