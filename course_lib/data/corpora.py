"""Parallel corpora: Multi30k, Anki/Tatoeba pairs, and two generated tasks that need no download.

1. **Multi30k** (Elliott et al. 2016, "Multi30K: Multilingual English-German Image
   Descriptions"; Elliott et al. 2017 for French and the 2017 test sets): downloaded on first
   use from :data:`MULTI30K_BASE_URL` (override: ``$COURSE_DATA_URL``), verified against
   ``course_lib/checksums/multi30k.txt``; :func:`load_multi30k` gives aligned pairs.
2. **Anki / Tatoeba** tab-separated pairs (manythings.org/anki, CC-BY 2.0 France):
   :func:`anki_file` / :func:`load_anki_pairs` (override: ``$COURSE_ANKI_URL``),
   :func:`read_tab_pairs` for any such file, :func:`split_pairs` to cut train/val/test.
3. **Generated tasks**: dates written in many ways to translate into ISO ``YYYY-MM-DD``
   (:func:`make_date_corpus`), and copying, reversing or sorting random symbol sequences of
   controllable length (:func:`make_sequence_task`), where a fixed-size encoder state must
   run out of room as sequences grow (the bottleneck attention removes).
"""

from __future__ import annotations

import datetime as _dt
import functools
import gzip
import os
import random
import warnings
import zipfile
from pathlib import Path
from typing import Any, Callable, Sequence

from course_lib.checks import check_choice, check_int, check_real, check_text, require
from course_lib.data._util import PATH_TYPES, check_instance, check_items, check_pattern
from course_lib.data.download import (SHA256, DataDownloadError, _stream, data_cache_dir, download_file, read_checksums,
                                      sha256_file)
from course_lib.utils import atomic_write

__all__ = [
    "MULTI30K_BASE_URL", "MULTI30K_SPLITS", "MULTI30K_LANGS", "multi30k_file", "load_multi30k",
    "read_tab_pairs", "split_pairs", "ANKI_BASE_URL", "ANKI_URL_VAR", "anki_file", "load_anki_pairs",
    "make_date_corpus", "SEQUENCE_TASKS", "make_sequence_task",
]

Pair = tuple[str, str]

MULTI30K_BASE_URL = "https://raw.githubusercontent.com/multi30k/dataset/master/"
"""The Multi30k repository; files are ``{base}data/task1/raw/{split}.{lang}.gz``. Override: ``$COURSE_DATA_URL``."""

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
"""Languages available for every Multi30k task-1 split."""


def _base_url(var: str, default: str) -> str:
    """``$var`` (a URL or a local folder) or ``default``, ending in ``/``."""
    base = os.environ.get(var, "").strip() or default
    base = base if "://" in base else Path(base).expanduser().resolve().as_uri()
    return base if base.endswith("/") else base + "/"


def _check_multi30k(split: Any, *langs: Any) -> None:
    """Check a Multi30k split name and (different) language codes, before any download."""
    check_choice(check_text(split, "split"), "the Multi30k split", tuple(MULTI30K_SPLITS))
    require(all(check_text(lang, "a language") in MULTI30K_LANGS for lang in langs) and len(set(langs)) == len(langs),
            f"Multi30k languages must be different valid languages ({', '.join(MULTI30K_LANGS)}), got {langs}")


def multi30k_file(split: str, lang: str) -> Path:
    """Path to the cached, verified ``{split}.{lang}.gz``, downloading it on first use.

    Raises:
        InputTypeError: ``split`` or ``lang`` is not a str.
        ValueError: unknown split or language (the message lists the valid ones).
        DataDownloadError, ChecksumError: see :func:`~course_lib.data.download_file`.
    """
    _check_multi30k(split, lang)
    return _multi30k_file(split, lang)


def _multi30k_file(split: str, lang: str) -> Path:
    rel = f"data/task1/raw/{split}.{lang}.gz"
    url = _base_url("COURSE_DATA_URL", MULTI30K_BASE_URL) + rel
    return download_file(url, data_cache_dir() / "multi30k" / rel, _multi30k_checksums()[rel],
                         desc=f"Multi30k {split}.{lang}")


@functools.lru_cache(maxsize=None)
def _multi30k_checksums() -> dict[str, str]:
    return read_checksums("multi30k.txt")


def _read_gz_lines(path: Path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        lines = f.read().split("\n")  # not splitlines(): it also splits on rare Unicode separators
    return [line.strip() for line in (lines[:-1] if lines and lines[-1] == "" else lines)]


def load_multi30k(split: str, src_lang: str = "de", tgt_lang: str = "en") -> list[Pair]:
    """Aligned Multi30k task-1 pairs ``(source, target)`` of ``split``, stripped and untokenised, in corpus order.

    Downloads and verifies both files on first use (Elliott et al. 2016,
    https://github.com/multi30k/dataset).

    Args:
        split: one of :data:`MULTI30K_SPLITS` (``"train"``, ``"val"``, ``"test_2016_flickr"``, ...).
        src_lang, tgt_lang: two different codes from :data:`MULTI30K_LANGS`.

    Raises:
        InputTypeError: an argument is not a str.
        ValueError: unknown split or language, equal languages, or files of unexpected lengths.
        DataDownloadError, ChecksumError: see :func:`~course_lib.data.download_file`.
    """
    _check_multi30k(split, src_lang, tgt_lang)
    src = _read_gz_lines(_multi30k_file(split, src_lang))
    tgt = _read_gz_lines(_multi30k_file(split, tgt_lang))
    expected = MULTI30K_SPLITS[split]
    if not len(src) == len(tgt) == expected:
        raise ValueError(f"Multi30k {split}: {len(src)}/{len(tgt)} lines, not {expected}; delete {data_cache_dir()}/multi30k")
    return list(zip(src, tgt))


# ---------------------------------------------------------------------------------------
# Anki / Tatoeba tab-separated pairs
# ---------------------------------------------------------------------------------------


def read_tab_pairs(path: str | os.PathLike, max_pairs: int | None = None) -> list[Pair]:
    """Sentence pairs ``(english, other)`` of an Anki/Tatoeba file (``english<TAB>other[<TAB>attribution]``).

    Read as UTF-8 (a byte-order mark is dropped); the attribution column of newer files is
    ignored; fields are stripped; blank lines are skipped. A line whose English or
    translation is empty is skipped too, with one :class:`UserWarning` at the end naming
    the first few line numbers (the file needs fixing). Swap the pairs to translate *into*
    English. Source: Tatoeba (tatoeba.org), CC-BY 2.0 France.

    Args:
        path: the unzipped text file, e.g. ``mar.txt`` from ``mar-eng.zip``.
        max_pairs: stop after this many kept pairs (>= 1; ``None``: all).

    Raises:
        InputTypeError: ``path`` is not a str or path; ``max_pairs`` not an int.
        FileNotFoundError: no such file (the message says where to get one).
        ValueError: a line without a tab (file and line named), a file that is not UTF-8, ``max_pairs < 1``.
    """
    path = Path(check_instance(path, PATH_TYPES, "path", "a str or path"))
    check_int(max_pairs, "max_pairs", low=1, allow_none=True)
    require(path.is_file(), f"no file {path}; get one from manythings.org/anki (e.g. mar-eng.zip)", FileNotFoundError)
    pairs: list[Pair] = []
    skipped: list[int] = []
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            for lineno, line in enumerate(f, start=1):
                if max_pairs is not None and len(pairs) >= max_pairs:
                    break
                if not line.strip():
                    continue
                cols = line.rstrip("\r\n").split("\t")
                if len(cols) < 2:
                    raise ValueError(f"{path}, line {lineno}: expected 'english<TAB>translation', got {line[:60]!r}")
                src, tgt = cols[0].strip(), cols[1].strip()
                if src and tgt:
                    pairs.append((src, tgt))
                else:
                    skipped.append(lineno)
    except UnicodeDecodeError as err:
        raise ValueError(f"{path} is not UTF-8 text ({err}); re-save it as UTF-8") from err
    if skipped:
        shown = ", ".join(map(str, skipped[:5])) + (", ..." if len(skipped) > 5 else "")
        warnings.warn(f"read_tab_pairs: skipped {len(skipped)} line(s) of {path.name} whose source or target is "
                      f"empty (lines {shown})", stacklevel=2)
    return pairs


def split_pairs(pairs: Sequence[Any], val_fraction: float = 0.05, test_fraction: float = 0.05,
                seed: int = 0) -> dict[str, list]:
    """Shuffle ``pairs`` with a seeded RNG and cut them into ``{"train", "val", "test"}`` lists.

    ``n_test = round(n * test_fraction)``, ``n_val = round(n * val_fraction)``, the rest is
    train; every item lands in exactly one split, none is empty; the same seed gives the same split.

    Raises:
        InputTypeError: ``pairs`` is a str or not a list; a fraction is not a number; ``seed`` not an int.
        ValueError: a fraction outside ``(0, 1)`` or NaN, fractions summing to 1 or more, a
            negative seed, or too few pairs for three non-empty splits.
    """
    items = check_items(pairs, "pairs", "(source, target) pairs")
    for name, fraction in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        check_real(fraction, name, low=0, high=1, low_open=True, high_open=True)
    check_int(seed, "seed", low=0)
    n_test, n_val = round(len(items) * test_fraction), round(len(items) * val_fraction)
    if val_fraction + test_fraction >= 1 or min(n_test, n_val, len(items) - n_val - n_test) < 1:
        raise ValueError(f"split_pairs: {len(items)} pairs are too few for 3 non-empty splits (or fractions sum >= 1)")
    order = list(range(len(items)))
    random.Random(int(seed)).shuffle(order)
    parts = {"test": order[:n_test], "val": order[n_test:n_test + n_val], "train": order[n_test + n_val:]}
    return {name: [items[i] for i in parts[name]] for name in ("train", "val", "test")}


ANKI_BASE_URL = "https://www.manythings.org/anki/"
"""The Anki/Tatoeba pair files: ``{base}{lang}-eng.zip`` holding ``{lang}.txt``. Override with
``$COURSE_ANKI_URL``: a mirror (URL or folder) holding the *extracted* ``{lang}.txt`` files."""

ANKI_URL_VAR = "COURSE_ANKI_URL"
"""The environment variable that points :func:`anki_file` at a mirror."""


def _extract_member(zip_path: Path, member: str, dest: Path, url: str) -> Path:
    """Extract ``member`` of the zip at ``zip_path`` to ``dest`` atomically."""
    try:
        with zipfile.ZipFile(zip_path) as zf:
            require(member in zf.namelist(), f"{zip_path.name} (from {url}) has no {member}: not the language's zip?")
            atomic_write(dest, lambda out: out.write(zf.read(member)), mode="wb")
    except zipfile.BadZipFile as err:
        zip_path.unlink(missing_ok=True)
        raise DataDownloadError(f"{url} is not a zip ({err}); removed it. Retry, or set {ANKI_URL_VAR}", url) from err
    return dest


def anki_file(lang: str = "mar", sha256: str | None = None) -> Path:
    """Path to the cached, verified Anki/Tatoeba file ``{lang}.txt``, downloading it on first use.

    - **Mirror** (``$COURSE_ANKI_URL`` set): ``{base}{lang}.txt``, checked against ``sha256``
      or the digest pinned in ``course_lib/checksums/anki.txt`` (``mar.txt`` is pinned;
      another language needs ``sha256``). Cached as ``data_cache_dir()/anki/{lang}.txt``.
    - **Canonical** (manythings.org, which republishes every zip with each Tatoeba export,
      so the course cannot pin them): ``{lang}-eng.zip``, checked against ``sha256`` if
      given, else accepted **unverified** with a :class:`UserWarning` that prints its
      digest (recorded beside the zip; later runs re-check the cached zip against it);
      ``{lang}.txt`` is extracted to ``data_cache_dir()/anki/{lang}-eng/``. A pinned
      ``{lang}.txt`` already cached from a mirror is used instead when ``sha256`` is not given.

    Every file is written atomically; a failed or mismatched download leaves nothing behind.

    Args:
        lang: manythings.org's three-letter code: ``"mar"`` (Marathi), ``"deu"``, ``"spa"``, ...
        sha256: the expected SHA-256 of the downloaded file (``.txt`` from a mirror, ``.zip``
            from the site); ``None``: the pinned one.

    Raises:
        InputTypeError: ``lang`` or ``sha256`` is not a str.
        ValueError: a bad ``lang`` or ``sha256``; a mirror file with no pinned digest and none
            given; a zip without ``{lang}.txt``.
        DataDownloadError: the file could not be fetched, or was not a zip. ChecksumError: wrong digest.
    """
    check_pattern(lang, "lang", r"[a-z]{3}", "a three-letter code as manythings.org/anki names its files ('mar', 'deu')")
    digest = None if sha256 is None else check_pattern(sha256, "sha256", SHA256, "64 hexadecimal characters")
    digest = digest and digest.strip().lower()
    base, folder, sums = _base_url(ANKI_URL_VAR, ANKI_BASE_URL), data_cache_dir() / "anki", read_checksums("anki.txt")
    text = f"{lang}.txt"
    if os.environ.get(ANKI_URL_VAR, "").strip():
        require(digest or sums.get(text), f"no pinned checksum for {text}: pass sha256= (`sha256sum` of a copy you trust)")
        return download_file(base + text, folder / text, digest or sums[text], desc=f"Anki {text}",
                             override_var=ANKI_URL_VAR)
    if digest is None and text in sums and (folder / text).is_file() and sha256_file(folder / text) == sums[text]:
        return folder / text  # the pinned release, cached earlier from a mirror
    rel = f"{lang}-eng.zip"
    url, zip_path, text_path = base + rel, folder / rel, folder / f"{lang}-eng" / text
    expected = digest or sums.get(rel)
    if expected is not None:
        had_zip = zip_path.is_file() and sha256_file(zip_path) == expected
        download_file(url, zip_path, expected, desc=f"Anki {rel}", override_var=ANKI_URL_VAR)
        return text_path if had_zip and text_path.is_file() else _extract_member(zip_path, text, text_path, url)
    record = zip_path.with_name(rel + ".sha256")
    if zip_path.is_file() and record.is_file() and text_path.is_file():
        if sha256_file(zip_path) == record.read_text(encoding="ascii").strip():
            return text_path
    got: dict[str, str] = {}
    atomic_write(zip_path, lambda out: got.update(sha256=_stream(url, out, f"Anki {rel}", ANKI_URL_VAR)), mode="wb")
    atomic_write(record, lambda out: out.write(got["sha256"] + "\n"), mode="w", encoding="ascii")
    warnings.warn(f"{rel} from {url} has no pinned checksum (the site republishes it with every Tatoeba export), "
                  f"so it was accepted unverified; its SHA-256 is {got['sha256']}. To pin it, pass "
                  f"sha256='{got['sha256']}'.", stacklevel=2)
    return _extract_member(zip_path, text, text_path, url)


def load_anki_pairs(lang: str = "mar", max_pairs: int | None = None, sha256: str | None = None) -> list[Pair]:
    """English -> ``lang`` pairs of the Anki/Tatoeba corpus: :func:`anki_file` then :func:`read_tab_pairs`.

    The file runs from short to long sentences: shuffle (:func:`split_pairs`) before
    splitting. For ``"mar"`` the pinned release has 33,725 pairs (Tatoeba, CC-BY 2.0 France).

    Raises:
        InputTypeError, ValueError, DataDownloadError, ChecksumError: see :func:`anki_file` and
        :func:`read_tab_pairs` (``max_pairs`` is checked before any download).
    """
    check_int(max_pairs, "max_pairs", low=1, allow_none=True)
    return read_tab_pairs(anki_file(lang, sha256=sha256), max_pairs=max_pairs)


# ---------------------------------------------------------------------------------------
# Generated tasks
# ---------------------------------------------------------------------------------------

_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


# Two-digit years are unambiguous: the corpus spans exactly 1950-2049.
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
    """``n`` pairs (written date, ISO date): a toy translation task that needs no download.

    Dates are uniform over 1950-01-01 .. 2049-12-31, written in one of ten forms
    (``"3 march 1998"``, ``"Tue, Mar 3, 1998"``, ``"03/03/98"`` US month/day/year,
    ``"3.3.1998"`` day.month.year, ``"the 3rd of march 1998"``, ``"MAR 03 1998"``, ...); the
    target is ``"1998-03-03"``. Same ``n`` and ``seed``, same corpus, whatever the locale.
    Tokenise with :data:`~course_lib.data.char_tokenize`.

    Raises:
        InputTypeError: ``n`` or ``seed`` is not an int. ValueError: ``n < 1`` or ``seed < 0``.
    """
    check_int(n, "n", low=1)
    rng = random.Random(check_int(seed, "seed", low=0))
    first, last = _dt.date(1950, 1, 1).toordinal(), _dt.date(2049, 12, 31).toordinal()
    pairs = []
    for _ in range(n):
        date = _dt.date.fromordinal(rng.randint(first, last))
        pairs.append((rng.choice(_DATE_FORMATS)(date), date.isoformat()))
    return pairs


SEQUENCE_TASKS = ("copy", "reverse", "sort")
"""What :func:`make_sequence_task` asks of the model: the target is the source copied, reversed or sorted."""


def make_sequence_task(n_pairs: int, task: str = "copy", min_len: int = 3, max_len: int = 60, n_symbols: int = 20,
                       seed: int = 0) -> list[Pair]:
    """``n_pairs`` random symbol sequences and their copy, reversal or sorted order: length on demand, no download.

    Each source has a length drawn uniformly from ``[min_len, max_len]`` (so every length
    bucket is populated) and symbols drawn uniformly from the first ``n_symbols`` of
    ``a, b, ..., z`` (two letters each, ``aa, ab, ...``, from 27 symbols on, three from
    677), written with single spaces: ``("d a t", "d a t")`` for ``"copy"``,
    ``"t a d"`` for ``"reverse"``, ``"a d t"`` for ``"sort"``. Tokenise both sides with
    ``str.split`` (or ``Tokenizer("xx", lower=False)``, which a bundle can store) and build a
    corpus with :func:`~course_lib.data.prepare_pairs`; cut it with :func:`split_pairs` or draw
    a test set with another seed. Copying long sequences is where a fixed-size encoder state
    runs out of room and attention does not (on real text: Bahdanau et al. 2015, fig. 2).

    Raises:
        InputTypeError: a size or ``seed`` is not an int; ``task`` not a str.
        ValueError: ``task`` not in :data:`SEQUENCE_TASKS`; ``n_pairs``/``min_len`` < 1,
            ``max_len < min_len``, ``n_symbols`` outside ``[2, 17576]``, ``seed < 0``.
    """
    check_int(n_pairs, "n_pairs", low=1)
    check_choice(check_text(task, "task"), "task", SEQUENCE_TASKS)
    check_int(max_len, "max_len", low=check_int(min_len, "min_len", low=1))
    width = 1 if check_int(n_symbols, "n_symbols", low=2, high=26**3) <= 26 else 2 if n_symbols <= 26**2 else 3
    letters = "abcdefghijklmnopqrstuvwxyz"
    symbols = ["".join(letters[i // 26**k % 26] for k in reversed(range(width))) for i in range(n_symbols)]
    rng = random.Random(check_int(seed, "seed", low=0))
    pairs = []
    for _ in range(n_pairs):
        src = rng.choices(symbols, k=rng.randint(min_len, max_len))
        tgt = src if task == "copy" else src[::-1] if task == "reverse" else sorted(src)
        pairs.append((" ".join(src), " ".join(tgt)))
    return pairs
