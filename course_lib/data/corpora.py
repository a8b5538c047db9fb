"""Parallel corpora: Multi30k, Anki/Tatoeba tab-separated pairs, and a toy date corpus.

1. **Multi30k** (Elliott et al. 2016, "Multi30K: Multilingual English-German Image
   Descriptions"; Elliott et al. 2017 for French and the 2017 test sets): downloaded on
   first use from :data:`MULTI30K_BASE_URL`, verified against the SHA-256 sums shipped in
   ``course_lib/checksums/multi30k.txt``, cached in :func:`~course_lib.data.data_cache_dir`.
   :func:`load_multi30k` returns aligned ``(source, target)`` sentence pairs.
2. **Anki / Tatoeba** tab-separated pairs (manythings.org/anki, CC-BY 2.0 France):
   downloaded on first use from :data:`ANKI_BASE_URL` (override: ``$COURSE_ANKI_URL``) by
   :func:`anki_file` / :func:`load_anki_pairs`; any such file is read by
   :func:`read_tab_pairs` and split by :func:`split_pairs`.
3. **A toy corpus** that needs no download and trains in seconds: dates written in many
   ways, to translate into ISO ``YYYY-MM-DD`` (:func:`make_date_corpus`).
"""

from __future__ import annotations

import datetime as _dt
import functools
import gzip
import math
import os
import random
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any, Callable, Sequence

from course_lib.data._checks import check_positive_int
from course_lib.data.download import (
    DataDownloadError,
    _stream,
    data_cache_dir,
    download_file,
    read_checksums,
    sha256_file,
)
from course_lib.utils import atomic_write

__all__ = [
    "MULTI30K_BASE_URL",
    "MULTI30K_SPLITS",
    "MULTI30K_LANGS",
    "multi30k_file",
    "load_multi30k",
    "read_tab_pairs",
    "split_pairs",
    "ANKI_BASE_URL",
    "ANKI_URL_VAR",
    "anki_file",
    "load_anki_pairs",
    "make_date_corpus",
]

Pair = tuple[str, str]

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


# ---------------------------------------------------------------------------------------
# Multi30k
# ---------------------------------------------------------------------------------------


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
    return read_checksums("multi30k.txt")


def _check_split_langs(split: str, langs: Sequence[str]) -> None:
    """Validate a Multi30k split name and language codes.

    Raises:
        TypeError: ``split`` or a language is not a str.
        ValueError: unknown split or language (the message lists the valid ones).
    """
    if not isinstance(split, str):
        raise TypeError(f"split must be a str such as 'train', got {type(split).__name__}")
    if split not in MULTI30K_SPLITS:
        raise ValueError(f"unknown Multi30k split {split!r}; valid splits: {', '.join(MULTI30K_SPLITS)}")
    for lang in langs:
        if not isinstance(lang, str):
            raise TypeError(f"a language must be a str code such as 'de', got {type(lang).__name__}")
        if lang not in MULTI30K_LANGS:
            raise ValueError(f"unknown Multi30k language {lang!r}; valid languages: {', '.join(MULTI30K_LANGS)}")


def multi30k_file(split: str, lang: str) -> Path:
    """Path to the cached, verified ``{split}.{lang}.gz``, downloading it on first use.

    Source: ``{COURSE_DATA_URL or MULTI30K_BASE_URL}data/task1/raw/{split}.{lang}.gz``,
    cached under ``data_cache_dir()/multi30k/data/task1/raw/``.

    Raises:
        TypeError: ``split`` or ``lang`` is not a str.
        ValueError: unknown split or language (the message lists the valid ones).
        DataDownloadError, ChecksumError: see :func:`~course_lib.data.download_file`.
    """
    _check_split_langs(split, [lang])
    rel = f"{_MULTI30K_RAW}/{split}.{lang}.gz"
    sums = _multi30k_checksums()
    if rel not in sums:  # pragma: no cover - the shipped checksum file covers every file
        raise ValueError(f"no checksum for {rel} in course_lib/checksums/multi30k.txt")
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
        TypeError: an argument is not a str.
        ValueError: unknown split or language, ``src_lang == tgt_lang``, or the two files
            have different or unexpected numbers of lines.
        DataDownloadError, ChecksumError: see :func:`~course_lib.data.download_file`.
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
# Anki / Tatoeba tab-separated pairs
# ---------------------------------------------------------------------------------------


def read_tab_pairs(path: str | os.PathLike, max_pairs: int | None = None) -> list[Pair]:
    """Read sentence pairs from an Anki/Tatoeba file (``english<TAB>other[<TAB>attribution]``).

    Both layouts published at https://www.manythings.org/anki/ are accepted: the older
    two-column one and the newer one whose third column is a CC-BY attribution (dropped).
    The file is read as UTF-8 with an optional byte-order mark (``utf-8-sig``), so a BOM
    never ends up in the first sentence. Blank lines are skipped; each field is
    whitespace-stripped. A line whose English or translation is empty after stripping
    (``"Go.\\t\\n"``) is **skipped**, never used as a training pair, and one
    :class:`UserWarning` at the end says how many lines were skipped and which (the first
    few line numbers). Source: Tatoeba (tatoeba.org), CC-BY 2.0 France.

    Args:
        path: the unzipped text file, e.g. ``mar.txt`` from ``mar-eng.zip``.
        max_pairs: stop after this many (kept) pairs, >= 1 (``None``: read all).

    Returns:
        ``(english, other)`` pairs in file order. Swap them (``[(b, a) for a, b in pairs]``)
        to translate *into* English.

    Raises:
        FileNotFoundError: ``path`` does not exist (the message says where to get it).
        TypeError: ``path`` is not a str/path, or ``max_pairs`` is not an int.
        ValueError: a non-blank line has fewer than two tab-separated columns (the message
            names the file and line number), the file is not UTF-8, or ``max_pairs < 1``.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or path, got {type(path).__name__}")
    check_positive_int("max_pairs", max_pairs, allow_none=True)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no sentence-pair file at {path}. Download the language's zip from "
            "https://www.manythings.org/anki/ (e.g. mar-eng.zip) and unzip it, or use the "
            "offline mirror's copy (e.g. ../shared/data/anki/mar.txt beside the repository)."
        )
    pairs: list[Pair] = []
    skipped: list[int] = []
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
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
                src, tgt = cols[0].strip(), cols[1].strip()
                if not src or not tgt:
                    skipped.append(lineno)
                    continue
                pairs.append((src, tgt))
    except UnicodeDecodeError as err:
        raise ValueError(f"{path} is not UTF-8 text ({err}); re-save it as UTF-8") from err
    if skipped:
        shown = ", ".join(map(str, skipped[:5])) + (", ..." if len(skipped) > 5 else "")
        warnings.warn(
            f"read_tab_pairs: skipped {len(skipped)} line(s) of {path.name} whose source or target is "
            f"empty (lines {shown})",
            stacklevel=2,
        )
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
        ``{"train": [...], "val": [...], "test": [...]}``, none of them empty.

    Raises:
        TypeError: ``pairs`` is a str (or not a sequence), a fraction is not a number, or
            ``seed`` is not an int.
        ValueError: ``seed`` is negative; a fraction is outside the open interval ``(0, 1)`` (or NaN), the two
            sum to 1 or more, or ``pairs`` is too short for every split to get at least one
            item (the message says how many are needed).
    """
    if isinstance(pairs, (str, bytes)) or not hasattr(pairs, "__len__"):
        raise TypeError(f"pairs must be a list of (source, target) pairs, got {type(pairs).__name__}")
    for name, frac in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if isinstance(frac, bool) or not isinstance(frac, (int, float)):
            raise TypeError(f"{name} must be a number in (0, 1), got {frac!r}")
        if not 0 < frac < 1:
            raise ValueError(f"{name} must be in the open interval (0, 1), got {frac}")
    if val_fraction + test_fraction >= 1:
        raise ValueError(
            f"val_fraction + test_fraction = {val_fraction + test_fraction} leaves no training data; keep it below 1"
        )
    check_positive_int("seed", seed, minimum=0)
    items = list(pairs)
    n_test = round(len(items) * test_fraction)
    n_val = round(len(items) * val_fraction)
    if min(n_test, n_val, len(items) - n_val - n_test) < 1:
        need = math.ceil(0.5 / min(val_fraction, test_fraction, 1 - val_fraction - test_fraction))
        raise ValueError(
            f"split_pairs got {len(items)} pairs, too few for non-empty train/val/test splits with "
            f"val_fraction={val_fraction}, test_fraction={test_fraction}; give at least about {need} pairs "
            "or larger fractions"
        )
    order = list(range(len(items)))
    random.Random(int(seed)).shuffle(order)
    test = [items[i] for i in order[:n_test]]
    val = [items[i] for i in order[n_test : n_test + n_val]]
    train = [items[i] for i in order[n_test + n_val :]]
    return {"train": train, "val": val, "test": test}


# ---------------------------------------------------------------------------------------
# Anki / Tatoeba download
# ---------------------------------------------------------------------------------------

ANKI_BASE_URL = "https://www.manythings.org/anki/"
"""Canonical location of the Anki/Tatoeba pair files: ``{base}{lang}-eng.zip`` (e.g.
``mar-eng.zip``), each holding ``{lang}.txt``. Override with ``$COURSE_ANKI_URL``: a mirror
(URL or local folder) holding the *extracted* text files ``{lang}.txt``."""

ANKI_URL_VAR = "COURSE_ANKI_URL"
"""The environment variable that points :func:`anki_file` at a mirror."""

_ANKI_LANG = re.compile(r"^[a-z]{3}$")


def _anki_base_url() -> tuple[str, bool]:
    """(base URL ending in ``/``, whether it is an override from ``$COURSE_ANKI_URL``)."""
    env = os.environ.get(ANKI_URL_VAR, "").strip()
    base = env or ANKI_BASE_URL
    if "://" not in base:  # a plain local path
        base = Path(base).expanduser().resolve().as_uri()
    if not base.endswith("/"):
        base += "/"
    return base, bool(env)


def _check_anki_lang(lang: Any) -> str:
    if not isinstance(lang, str):
        raise TypeError(f"lang must be a three-letter str code such as 'mar' or 'deu', got {type(lang).__name__}")
    if not _ANKI_LANG.fullmatch(lang):
        raise ValueError(
            f"lang must be a lower-case three-letter code as manythings.org/anki names its files "
            f"('mar' for mar-eng.zip, 'deu', 'spa', ...), got {lang!r}"
        )
    return lang


def _check_sha256_arg(sha256: Any) -> str | None:
    if sha256 is None:
        return None
    if not isinstance(sha256, str):
        raise TypeError(f"sha256 must be a hex str or None, got {type(sha256).__name__}")
    digest = sha256.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise ValueError(f"sha256 must be 64 hexadecimal characters, got {sha256!r}")
    return digest


def _extract_member(zip_path: Path, member: str, dest: Path, url: str) -> Path:
    """Extract ``member`` of the zip at ``zip_path`` to ``dest`` atomically."""
    try:
        with zipfile.ZipFile(zip_path) as zf:
            names = zf.namelist()
            if member not in names:
                raise ValueError(
                    f"{zip_path.name} (from {url}) has no {member}; it holds {', '.join(names[:5]) or 'nothing'}"
                )
            atomic_write(dest, lambda out: out.write(zf.read(member)), mode="wb")
    except zipfile.BadZipFile as err:
        zip_path.unlink(missing_ok=True)
        raise DataDownloadError(
            f"{url} did not give a zip file ({err}); the download was removed. Retry, or set "
            f"{ANKI_URL_VAR} to a mirror holding the extracted {member}.",
            url,
        ) from err
    return dest


def anki_file(lang: str = "mar", sha256: str | None = None) -> Path:
    """Path to the cached, verified Anki/Tatoeba pair file ``{lang}.txt``, downloading it on first use.

    Where it comes from (manythings.org/anki, sentences from Tatoeba, CC-BY 2.0 France):

    - **Mirror** (``$COURSE_ANKI_URL`` set, a URL or a local folder): ``{base}{lang}.txt``,
      the extracted text file, as in the course's offline mirror (``anki/mar.txt``). Its
      SHA-256 must equal ``sha256`` or the one pinned in ``course_lib/checksums/anki.txt``
      (``mar.txt`` is pinned; for another language pass ``sha256``, else a
      :class:`ValueError` is raised before anything is downloaded). Cached as
      ``data_cache_dir()/anki/{lang}.txt``.
    - **Canonical** (no override): ``https://www.manythings.org/anki/{lang}-eng.zip``. The
      site republishes every zip with each Tatoeba export (the current ones have a third,
      attribution column), so the course *cannot* pin their checksums. With ``sha256``
      given, the zip is verified against it (mismatch: :class:`ChecksumError`, nothing
      kept). Without it, the zip is accepted **unverified** with a :class:`UserWarning`
      that prints its SHA-256; that digest is recorded beside the cached zip
      (``anki/{lang}-eng.zip.sha256``) and later runs re-check the cached zip against it.
      ``{lang}.txt`` is then extracted to ``data_cache_dir()/anki/{lang}-eng/{lang}.txt``.
      If the cache already holds the *pinned* ``{lang}.txt`` (fetched from a mirror before)
      and ``sha256`` is not given, that verified file is used and nothing is downloaded.

    Every file is written atomically; a failed or mismatched download leaves nothing behind.

    Args:
        lang: manythings.org's three-letter code: ``"mar"`` (Marathi), ``"deu"``, ``"spa"``, ...
        sha256: the expected SHA-256 of the file that is downloaded (the ``.txt`` from a
            mirror, the ``.zip`` from the canonical site); ``None``: the pinned one.

    Returns:
        The path of the ``{lang}.txt`` text file (``english<TAB>translation[<TAB>attribution]``).

    Raises:
        TypeError: ``lang`` or ``sha256`` is not a str.
        ValueError: ``lang`` is not a three-letter lower-case code; ``sha256`` is not 64 hex
            characters; a mirror file has no pinned checksum and none was given; the zip
            has no ``{lang}.txt``.
        DataDownloadError: the file could not be fetched (the message names
            ``COURSE_ANKI_URL``), or the canonical download was not a zip.
        ChecksumError: the downloaded file's SHA-256 differs from the expected one (not kept).
    """
    lang = _check_anki_lang(lang)
    digest = _check_sha256_arg(sha256)
    base, overridden = _anki_base_url()
    sums = read_checksums("anki.txt")
    folder = data_cache_dir() / "anki"
    if overridden:
        rel = f"{lang}.txt"
        expected = digest or sums.get(rel)
        if expected is None:
            raise ValueError(
                f"no pinned checksum for {rel} in course_lib/checksums/anki.txt; pass sha256='<digest>' "
                f"(run `sha256sum {rel}` on the mirror's copy you trust) to load it from {base}"
            )
        return download_file(base + rel, folder / rel, expected, desc=f"Anki {rel}", override_var=ANKI_URL_VAR)
    pinned_text = folder / f"{lang}.txt"
    if digest is None and f"{lang}.txt" in sums and pinned_text.is_file():
        if sha256_file(pinned_text) == sums[f"{lang}.txt"]:
            return pinned_text  # the pinned release, cached earlier from a mirror: verified, offline
    rel = f"{lang}-eng.zip"
    url = base + rel
    zip_path = folder / rel
    text_path = folder / f"{lang}-eng" / f"{lang}.txt"
    expected = digest or sums.get(rel)
    if expected is not None:
        had_zip = zip_path.is_file() and sha256_file(zip_path) == expected
        download_file(url, zip_path, expected, desc=f"Anki {rel}", override_var=ANKI_URL_VAR)
        if had_zip and text_path.is_file():
            return text_path
        return _extract_member(zip_path, f"{lang}.txt", text_path, url)
    record = zip_path.with_name(zip_path.name + ".sha256")
    if zip_path.is_file() and record.is_file() and text_path.is_file():
        if sha256_file(zip_path) == record.read_text(encoding="ascii").strip():
            return text_path
    holder: dict[str, str] = {}

    def fetch(out) -> None:
        holder["sha256"] = _stream(url, out, f"Anki {rel}", ANKI_URL_VAR)

    atomic_write(zip_path, fetch, mode="wb")
    atomic_write(record, lambda out: out.write(holder["sha256"] + "\n"), mode="w", encoding="ascii")
    warnings.warn(
        f"{rel} from {url} has no pinned checksum (the site republishes it with every Tatoeba export), so it "
        f"was accepted unverified; its SHA-256 is {holder['sha256']}. To pin it, pass sha256='{holder['sha256']}'.",
        stacklevel=2,
    )
    return _extract_member(zip_path, f"{lang}.txt", text_path, url)


def load_anki_pairs(lang: str = "mar", max_pairs: int | None = None, sha256: str | None = None) -> list[Pair]:
    """English -> ``lang`` sentence pairs of the Anki/Tatoeba corpus, downloaded on first use.

    :func:`anki_file` (download, checksum, cache; the override is ``$COURSE_ANKI_URL``) then
    :func:`read_tab_pairs` (BOM stripped, a third attribution column ignored, lines with an
    empty side skipped with a warning). Source: Tatoeba via manythings.org/anki, CC-BY 2.0
    France; for ``"mar"`` the pinned release has 33,725 pairs.

    Args:
        lang: three-letter code of the other language (``"mar"``, ``"deu"``, ...).
        max_pairs: keep only the first ``max_pairs`` pairs (file order; >= 1, ``None``: all).
        sha256: see :func:`anki_file`.

    Returns:
        ``(english, other)`` pairs of stripped, untokenised strings. The file is sorted
        from short to long sentences, so shuffle (:func:`split_pairs`) before splitting.

    Raises:
        TypeError, ValueError, DataDownloadError, ChecksumError: see :func:`anki_file` and
        :func:`read_tab_pairs` (``max_pairs`` is checked before anything is downloaded).
    """
    check_positive_int("max_pairs", max_pairs, allow_none=True)
    return read_tab_pairs(anki_file(lang, sha256=sha256), max_pairs=max_pairs)


# ---------------------------------------------------------------------------------------
# Toy corpus: dates -> ISO 8601
# ---------------------------------------------------------------------------------------

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
    corpus (English names are built in, so the system locale does not matter). Tokenise
    with :data:`~course_lib.data.char_tokenize`.

    Raises:
        TypeError: ``n`` or ``seed`` is not an int (``bool`` and ``float`` are refused too).
        ValueError: ``n < 1`` or ``seed < 0``.
    """
    check_positive_int("n", n)
    check_positive_int("seed", seed, minimum=0)
    rng = random.Random(int(seed))
    first = _dt.date(1950, 1, 1).toordinal()
    last = _dt.date(2049, 12, 31).toordinal()
    pairs = []
    for _ in range(n):
        date = _dt.date.fromordinal(rng.randint(first, last))
        fmt = rng.choice(_DATE_FORMATS)
        pairs.append((fmt(date), date.isoformat()))
    return pairs
