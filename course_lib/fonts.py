"""Fonts for scripts that matplotlib's default font cannot draw (Devanagari for Marathi, ...).

DejaVu Sans, matplotlib's default, has no Devanagari glyphs: Marathi labels come out as empty
boxes. :func:`find_script_font` looks for an installed font whose character map covers a
script, :func:`use_script_font` makes matplotlib use it for the session, :func:`missing_glyphs`
says which characters the configured fonts cannot draw, and :func:`font_rc` gives the font
settings for a temporary seaborn style (``sns.axes_style(..., rc=font_rc())``).

Glyphs are not enough: a conjunct such as क्ष or the vowel sign ि (written *before* its
consonant) needs OpenType shaping, which matplotlib >= 3.11 does with libraqm when built with
it (:func:`text_shaping`). Nothing happens at import time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

from .checks import InputTypeError, check_choice, check_flag, check_text, check_texts, require

__all__ = ["SCRIPTS", "KNOWN_FONTS", "FONT_INSTALL_HINT", "find_script_font", "use_script_font", "missing_glyphs",
           "font_rc", "text_shaping"]

SCRIPTS: dict[str, tuple[int, int]] = {
    "devanagari": (0x0900, 0x097F), "bengali": (0x0980, 0x09FF), "tamil": (0x0B80, 0x0BFF),
    "arabic": (0x0600, 0x06FF), "cyrillic": (0x0400, 0x04FF), "greek": (0x0370, 0x03FF),
    "hebrew": (0x0590, 0x05FF), "thai": (0x0E00, 0x0E7F),
}
"""Unicode blocks (first, last code point) of scripts the search knows by name."""

KNOWN_FONTS: dict[str, tuple[str, ...]] = {
    "devanagari": ("Noto Sans Devanagari", "Lohit Devanagari",  # Debian/Ubuntu: fonts-noto-core, fonts-lohit-deva
                   "Nirmala UI", "Kohinoor Devanagari", "Devanagari Sangam MN",  # Windows 8+, macOS
                   "Mangal", "Mukta", "Gargi", "Samanata"),
}
"""Font families tried first (in this order) for a script; any other installed font whose
character map covers the script is accepted after them."""

FONT_INSTALL_HINT = (
    "No installed font covers {script}. Install one and restart the kernel: on Debian/Ubuntu "
    "(and Colab) `sudo apt-get install fonts-noto-core` or `sudo apt-get install fonts-lohit-deva`; "
    "on macOS and Windows a Devanagari font is already installed (Kohinoor Devanagari, Nirmala UI); "
    "or download Noto Sans Devanagari from https://fonts.google.com/noto and pass its .ttf file as "
    "extra_paths=[...]. Until then {script} text in plots shows as empty boxes."
)


def _font_files(extra_paths) -> list[Path]:
    """``extra_paths`` (one path or a list of them) as existing font files."""
    paths = [extra_paths] if isinstance(extra_paths, (str, os.PathLike)) else extra_paths
    paths = list(paths) if isinstance(paths, Iterable) and not isinstance(paths, (bytes, dict)) else [None]
    require(all(isinstance(p, (str, os.PathLike)) for p in paths),
            f"extra_paths must be a font file path or a list of them, got {extra_paths!r:.60}", InputTypeError)
    files = [Path(p).expanduser() for p in paths]
    for f in files:
        require(f.is_file(), f"font file {f} " + ("is a folder, not a .ttf/.otf" if f.is_dir() else "does not exist"))
    return files


def _covers(path: str | Path, block: tuple[int, int]) -> tuple[bool, str | None]:
    """(whether the font file covers most of ``block``'s letters, its family name)."""
    from matplotlib import ft2font

    try:
        font = ft2font.FT2Font(str(path))
        charmap = font.get_charmap()
    except Exception:  # unreadable or unsupported font file
        return False, None
    first, last = block
    wanted = range(first + 0x15, min(first + 0x39, last) + 1)  # the consonants of the Indic blocks, etc.
    hits = sum(1 for cp in wanted if cp in charmap)
    return hits >= 0.9 * len(wanted), font.family_name


def find_script_font(script: str = "devanagari", extra_paths: Sequence[str | os.PathLike] = ()) -> str | None:
    """The family name of an installed font that can draw ``script`` (a key of :data:`SCRIPTS`), or ``None``.

    ``extra_paths`` (``.ttf``/``.otf`` files) are tried first, then the families of
    :data:`KNOWN_FONTS` in order, then every other system font. A font counts if its
    character map holds the script's letters (the name is not trusted); the one found is
    registered with matplotlib's font manager (so fonts installed after its cache was built work).

    Raises:
        InputTypeError (a TypeError): ``script`` not a str; ``extra_paths`` holds a non-path.
        ValueError: unknown ``script``; an ``extra_paths`` file does not exist or is a folder
            (an unreadable file, or a font that does not cover the script, is skipped).
    """
    key = check_choice(check_text(script, "script").strip().lower(), "script", tuple(SCRIPTS))
    extras = _font_files(extra_paths)
    from matplotlib import font_manager

    block, known = SCRIPTS[key], KNOWN_FONTS.get(key, ())
    for path in extras:
        ok, family = _covers(path, block)
        if ok:
            font_manager.fontManager.addfont(str(path))
            return family
    seen: dict[str, str] = {}  # family -> its first font file
    for path in sorted(font_manager.findSystemFonts(fontext="ttf")):
        ok, family = _covers(path, block)
        if ok and family:
            seen.setdefault(family, path)
    if not seen:
        return None
    family = min(seen, key=lambda f: (known.index(f) if f in known else len(known), f))
    if family not in {f.name for f in font_manager.fontManager.ttflist}:
        font_manager.fontManager.addfont(seen[family])
    return family


def use_script_font(script: str = "devanagari", extra_paths: Sequence[str | os.PathLike] = (), warn: bool = True) -> str | None:
    """Make matplotlib draw ``script`` for the rest of this session; return the font used (``None``: none found).

    Sets ``rcParams["font.family"]`` to ``[<found font>, "DejaVu Sans"]`` (matplotlib falls back
    glyph by glyph) and puts the font first in ``font.sans-serif``: global settings on purpose,
    unchanged when no font is found (then :data:`FONT_INSTALL_HINT` is printed if ``warn``).

    Raises:
        TypeError, ValueError: as :func:`find_script_font`; ``warn`` not a bool.
    """
    check_flag(warn, "warn")
    family = find_script_font(script, extra_paths)
    if family is None:
        if warn:
            print(FONT_INSTALL_HINT.format(script=script.strip().capitalize()))
        return None
    import matplotlib

    matplotlib.rcParams["font.family"] = [family, "DejaVu Sans"]
    sans = [f for f in matplotlib.rcParams["font.sans-serif"] if f != family]
    matplotlib.rcParams["font.sans-serif"] = [family, *sans]
    return family


def font_rc() -> dict[str, list[str]]:
    """The current ``font.family`` and ``font.sans-serif`` as an ``rc`` dict, for seaborn's temporary
    styles (``sns.axes_style("white", rc=font_rc())``), which would otherwise drop a font set by
    :func:`use_script_font`."""
    import matplotlib

    return {k: list(matplotlib.rcParams[k]) for k in ("font.family", "font.sans-serif")}


def missing_glyphs(texts: str | Iterable[str], family: str | Sequence[str] | None = None) -> list[str]:
    """The sorted distinct characters of ``texts`` (a str or a list of str) that no font of ``family`` can draw.

    ``family``: a family name or a list of them (default: ``rcParams["font.family"]``, resolved
    as when drawing). Whitespace and control characters are ignored.

    Raises:
        InputTypeError (a TypeError): ``texts`` or ``family`` not a str or a list of str.
        ValueError: ``family`` empty or a blank name.
    """
    texts = check_texts([texts] if isinstance(texts, str) else texts, "texts")
    import matplotlib
    from matplotlib import font_manager, ft2font

    if family is None:
        family = list(matplotlib.rcParams["font.family"])
    family = check_texts([family] if isinstance(family, str) else family, "family")
    require(family and all(f.strip() for f in family), f"family must name font families (none blank), got {family!r}")
    props = font_manager.FontProperties(family=list(family))
    try:  # the fallback chain matplotlib draws with (matplotlib >= 3.6)
        paths = font_manager.fontManager._find_fonts_by_props(props)
    except AttributeError:  # pragma: no cover - older matplotlib: the first font only
        paths = [font_manager.findfont(props)]
    charmaps = [ft2font.FT2Font(str(p)).get_charmap() for p in paths]
    chars = {c for t in texts for c in t if not c.isspace() and c.isprintable()}
    return sorted(c for c in chars if not any(ord(c) in cm for cm in charmaps))


def text_shaping() -> str | None:
    """The libraqm version matplotlib shapes text with (conjuncts such as क्ष joined), or ``None``."""
    from matplotlib import ft2font

    version = getattr(ft2font, "__libraqm_version__", None)
    return str(version) if version else None
