"""Download, verify and cache corpus files.

:func:`download_file` streams a URL into :func:`course_lib.utils.atomic_write`, hashing the
bytes on the way; a file whose SHA-256 differs from the expected one is never kept.
:func:`read_checksums` reads the SHA-256 lists shipped in the package
(``course_lib/checksums/*.txt``), and :func:`data_cache_dir` says where corpora (and the
subword models trained on them) are cached.
"""

from __future__ import annotations

import hashlib
import os
import re
import urllib.error
import urllib.request
from importlib import resources
from pathlib import Path

from course_lib.utils import atomic_write

__all__ = ["DataDownloadError", "ChecksumError", "data_cache_dir", "download_file", "read_checksums", "sha256_file"]

_CHUNK = 1 << 16
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


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


def _mirror_example(override_var: str) -> str:
    """The mirror sub-folder shown in the offline error message for ``override_var``."""
    return {"COURSE_DATA_URL": "multi30k/", "COURSE_ANKI_URL": "anki/"}.get(override_var, "")


def data_cache_dir() -> Path:
    """The folder where downloaded corpora are cached (created if missing).

    ``$COURSE_DATA_DIR`` if set, else ``$XDG_CACHE_HOME/course_lib``, else
    ``~/.cache/course_lib``. Never inside the repository, so corpora are never committed.
    Subword models trained on a corpus are cached here too (``subwords/``).

    Returns:
        An absolute :class:`~pathlib.Path`.

    Raises:
        ValueError: the chosen path (or one of its parents) is an existing file, not a
            folder; the message names the environment variable to change.
    """
    env = os.environ.get("COURSE_DATA_DIR", "").strip()
    if env:
        path = Path(env).expanduser()
        source = "COURSE_DATA_DIR"
    else:
        xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
        base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
        path = base / "course_lib"
        source = "XDG_CACHE_HOME" if xdg else "COURSE_DATA_DIR"
    path = path.resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as err:
        raise ValueError(
            f"the data cache {path} cannot be a folder: {err.filename or path} is a file; "
            f"set {source} to a folder (e.g. {source}=~/.cache/course_lib)"
        ) from None
    return path


def sha256_file(path: str | os.PathLike) -> str:
    """SHA-256 hex digest of the file at ``path`` (read in 64 KiB chunks).

    Raises:
        TypeError: ``path`` is not a str or path. FileNotFoundError: no such file.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or path, got {type(path).__name__}")
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def read_checksums(name: str) -> dict[str, str]:
    """Relative path -> SHA-256 hex digest, from the package file ``course_lib/checksums/{name}``.

    The file has ``sha256sum`` format (``<digest>  <relative path>``; ``#`` comments).

    Raises:
        TypeError: ``name`` is not a str.
        ValueError: ``name`` is not a plain file name, the file does not exist in the
            package, or a line is malformed.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a file name str such as 'multi30k.txt', got {type(name).__name__}")
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"name must be a plain file name in course_lib/checksums/, got {name!r}")
    ref = resources.files("course_lib").joinpath("checksums", name)
    if not ref.is_file():
        raise ValueError(f"no checksum list course_lib/checksums/{name} in the installed package")
    sums: dict[str, str] = {}
    for lineno, line in enumerate(ref.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or not _HEX64.match(parts[0].lower()):
            raise ValueError(f"course_lib/checksums/{name}, line {lineno}: expected '<sha256>  <path>', got {line!r}")
        sums[parts[1].lstrip("*").strip()] = parts[0].lower()
    return sums


def _open_url(url: str):
    """``urlopen`` with a descriptive User-Agent for http(s) (some sites refuse Python's default)."""
    if url.lower().startswith(("http://", "https://")):
        url = urllib.request.Request(url, headers={"User-Agent": "course_lib (seq2seq course; python-urllib)"})
    return urllib.request.urlopen(url, timeout=60)


def _stream(url: str, out, desc: str, override_var: str) -> str:
    """Copy ``url`` into the open binary file ``out`` with a progress bar; return its SHA-256.

    Raises:
        DataDownloadError: the URL could not be opened or read (names ``override_var``).
    """
    from tqdm.auto import tqdm

    h = hashlib.sha256()
    try:
        with _open_url(url) as response:
            total = response.headers.get("Content-Length") if response.headers else None
            with tqdm(
                total=int(total) if total and str(total).isdigit() else None,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=desc,
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
            f"point the environment variable {override_var} at a mirror holding the same "
            f"relative paths, e.g. {override_var}=file:///path/to/mirror/{_mirror_example(override_var)} "
            "(a plain local folder works too).",
            url,
        ) from err
    return h.hexdigest()


def download_file(
    url: str, dest: str | os.PathLike, sha256: str, desc: str | None = None, override_var: str = "COURSE_DATA_URL"
) -> Path:
    """Download ``url`` to ``dest`` and verify its SHA-256; reuse ``dest`` if already valid.

    If ``dest`` exists and its hash matches, nothing is downloaded. Otherwise the bytes are
    streamed (with a byte-counting tqdm progress bar) through
    :func:`course_lib.utils.atomic_write` and hashed on the way; on a mismatch the error is
    raised inside the writer, so an interrupted or corrupt download never leaves a file at
    ``dest`` (nor a temporary file). A stale ``dest`` whose hash does not match is replaced.

    Args:
        url: any URL :func:`urllib.request.urlopen` understands (``https://``, ``file://``).
        dest: where the file should end up; its folder is created if needed.
        sha256: the expected SHA-256 hex digest (64 hex characters).
        desc: label for the progress bar (default: the file name).
        override_var: the environment variable that points this corpus at a mirror; the
            error messages name it (``COURSE_DATA_URL`` for Multi30k, ``COURSE_ANKI_URL``
            for the Anki pairs).

    Returns:
        ``dest`` as a :class:`~pathlib.Path`.

    Raises:
        TypeError: ``url`` or ``sha256`` is not a str.
        ValueError: ``sha256`` is not 64 hex characters.
        DataDownloadError: the URL could not be opened or read (message names the URL and
            how to point ``override_var`` at a mirror).
        ChecksumError: the downloaded bytes do not have the expected hash (not kept).
    """
    if not isinstance(url, str) or not url.strip():
        raise TypeError(f"url must be a non-empty str, got {url!r}")
    if not isinstance(sha256, str):
        raise TypeError(f"sha256 must be a hex str, got {type(sha256).__name__}")
    expected = sha256.strip().lower()
    if not _HEX64.match(expected):
        raise ValueError(f"sha256 must be 64 hexadecimal characters, got {sha256!r}")
    if not isinstance(override_var, str) or not override_var:
        raise TypeError(f"override_var must be the name of an environment variable, got {override_var!r}")
    dest = Path(dest)
    if dest.is_file():
        if sha256_file(dest) == expected:
            return dest
        dest.unlink()  # stale or corrupt copy from elsewhere: fetch it again

    def fetch(out) -> None:
        actual = _stream(url, out, desc or dest.name, override_var)
        if actual != expected:  # raised inside atomic_write: the temporary file is removed
            raise ChecksumError(
                f"checksum mismatch for {dest.name} downloaded from {url}: expected SHA-256 "
                f"{expected}, got {actual}. The file was not kept. Retry the download; if it "
                f"fails again, the mirror ({override_var}) or the upstream file has changed.",
                dest,
                expected,
                actual,
            )

    return atomic_write(dest, fetch, mode="wb")
