"""Download, verify and cache corpus files.

:func:`download_file` streams a URL into :func:`course_lib.utils.atomic_write`, hashing the
bytes on the way, so a file whose SHA-256 differs from the expected one is never kept;
:func:`read_checksums` reads the lists shipped in ``course_lib/checksums/``;
:func:`data_cache_dir` says where corpora (and the subword models trained on them) live.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from importlib import resources
from pathlib import Path

from course_lib.checks import InputTypeError, check_text, require
from course_lib.data._util import PATH_TYPES, check_instance, check_pattern
from course_lib.utils import atomic_write

__all__ = ["DataDownloadError", "ChecksumError", "data_cache_dir", "download_file", "read_checksums", "sha256_file"]

_CHUNK = 1 << 16
SHA256 = r"\s*[0-9a-fA-F]{64}\s*"  # a hex digest (case and surrounding spaces forgiven)


class DataDownloadError(OSError):
    """A corpus file could not be fetched (no network, wrong URL, missing mirror file); ``url`` says which."""

    def __init__(self, message: str, url: str):
        super().__init__(message)
        self.url = url


class ChecksumError(ValueError):
    """A downloaded file's SHA-256 differs from the expected one; the file is not kept.

    Attributes: ``path`` (where it would have gone), ``expected`` and ``actual`` (hex digests).
    """

    def __init__(self, message: str, path: Path, expected: str, actual: str):
        super().__init__(message)
        self.path, self.expected, self.actual = path, expected, actual


def data_cache_dir() -> Path:
    """The folder where corpora and subword models are cached (created if missing).

    ``$COURSE_DATA_DIR`` if set, else ``$XDG_CACHE_HOME/course_lib``, else
    ``~/.cache/course_lib``: never inside the repository, so corpora are never committed.

    Raises:
        ValueError: the path (or a parent) is an existing file; the message names the variable to change.
    """
    env = os.environ.get("COURSE_DATA_DIR", "").strip()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    path = Path(env or xdg or Path.home() / ".cache").expanduser()
    path = (path if env else path / "course_lib").resolve()
    source = "XDG_CACHE_HOME" if xdg and not env else "COURSE_DATA_DIR"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as err:
        raise ValueError(f"data cache {path}: {err.filename or path} is a file; set {source} to a folder") from None
    return path


def sha256_file(path: str | os.PathLike) -> str:
    """SHA-256 hex digest of the file at ``path``.

    Raises:
        InputTypeError: ``path`` is not a str or path. FileNotFoundError: no such file.
    """
    h = hashlib.sha256()
    with open(check_instance(path, PATH_TYPES, "path", "a str or path"), "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def read_checksums(name: str) -> dict[str, str]:
    """Relative path -> SHA-256, from the package file ``course_lib/checksums/{name}`` (``sha256sum`` format).

    Raises:
        InputTypeError: ``name`` is not a str.
        ValueError: no such list (``name`` must be a plain file name there), or a malformed line.
    """
    ref = resources.files("course_lib").joinpath("checksums", check_text(name, "name"))
    require(name and not any(c in name for c in "/\\") and not name.startswith(".") and ref.is_file(),
            f"no checksum list course_lib/checksums/{name}: give a plain file name such as 'multi30k.txt'")
    rows = (line.split(maxsplit=1) for line in ref.read_text(encoding="utf-8").splitlines())  # the package's own files
    return {p[1].lstrip("*").strip(): p[0].lower() for p in rows if p and not p[0].startswith("#")}


def _stream(url: str, out, desc: str, override_var: str) -> str:
    """Copy ``url`` into the binary file ``out`` with a progress bar; return its SHA-256.

    Raises:
        DataDownloadError: the URL could not be opened or read (the message names ``override_var``).
    """
    from tqdm.auto import tqdm

    h = hashlib.sha256()
    request = url
    if url.lower().startswith(("http://", "https://")):  # some sites refuse Python's default User-Agent
        request = urllib.request.Request(url, headers={"User-Agent": "course_lib (seq2seq course; python-urllib)"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            total = response.headers.get("Content-Length") if response.headers else None
            with tqdm(total=int(total) if total and str(total).isdigit() else None, unit="B", unit_scale=True,
                      unit_divisor=1024, desc=desc, leave=False) as bar:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    out.write(chunk)
                    h.update(chunk)
                    bar.update(len(chunk))
    except (urllib.error.URLError, OSError, ValueError) as err:
        example = {"COURSE_DATA_URL": "multi30k/", "COURSE_ANKI_URL": "anki/"}.get(override_var, "")
        raise DataDownloadError(f"could not download {url} ({getattr(err, 'reason', None) or err}); check the network, "
                                f"or set {override_var} to a mirror, e.g. file:///path/to/mirror/{example}", url) from err
    return h.hexdigest()


def download_file(url: str, dest: str | os.PathLike, sha256: str, desc: str | None = None,
                  override_var: str = "COURSE_DATA_URL") -> Path:
    """Download ``url`` to ``dest`` and verify its SHA-256; reuse ``dest`` if it is already valid.

    Streamed (with a tqdm progress bar) through :func:`course_lib.utils.atomic_write` and hashed on the way: an
    interrupted or corrupt download leaves nothing at ``dest``. A stale ``dest`` is replaced.

    Args:
        url: any URL ``urllib`` opens (``https://``, ``file://``).
        dest: where the file should end up (its folder is created). sha256: the expected hex digest.
        desc: progress-bar label (default: the file name).
        override_var: the environment variable that points this corpus at a mirror (named in the error message).

    Raises:
        InputTypeError (a TypeError and a ValueError): ``url`` is not a non-empty str; ``sha256`` or
            ``override_var`` is not a str.
        ValueError: ``sha256`` is not 64 hexadecimal characters.
        DataDownloadError: the URL could not be read. ChecksumError: wrong SHA-256 (not kept).
    """
    require(isinstance(url, str) and url.strip(), f"url must be a non-empty str, got {url!r:.60}", InputTypeError)
    check_text(override_var, "override_var")
    expected = check_pattern(sha256, "sha256", SHA256, "64 hexadecimal characters").strip().lower()
    dest = Path(dest)
    if dest.is_file():
        if sha256_file(dest) == expected:
            return dest
        dest.unlink()  # stale or corrupt copy: fetch it again

    def fetch(out) -> None:
        actual = _stream(url, out, desc or dest.name, override_var)
        if actual != expected:  # raised inside atomic_write: the temporary file is removed
            raise ChecksumError(f"{dest.name} from {url}: SHA-256 {actual}, expected {expected}; the file was not kept. "
                                f"Retry, or check the mirror ({override_var})", dest, expected, actual)

    return atomic_write(dest, fetch, mode="wb")
