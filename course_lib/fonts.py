"""Fonts for scripts that matplotlib's default font cannot draw (Devanagari for Marathi, ...).

Matplotlib's default font, DejaVu Sans, has no Devanagari glyphs: Marathi tick labels come
out as empty boxes ("tofu") with a ``Glyph ... missing`` warning. :func:`find_script_font`
looks for an installed font that covers a script (checking the font file's character map,
not just its name), :func:`use_script_font` makes matplotlib use it for the rest of the
session, and :func:`missing_glyphs` says which characters of some text the configured
fonts cannot draw. :func:`font_rc` gives the current font settings so that a temporary
seaborn style (``sns.axes_style(..., rc=font_rc())``) does not switch them back.

Text shaping: Devanagari needs more than glyphs. A conjunct such as क्ष (ka + virama + ssa)
or the vowel sign ि (written *before* the consonant it follows) must be shaped by the
OpenType rules of the font. Matplotlib draws text through FreeType; from matplotlib 3.11
on it shapes with libraqm when its FreeType wrapper was built with it
(``matplotlib.ft2font.__libraqm_version__``), which :func:`text_shaping` reports. Without
shaping, letters are right but conjuncts fall apart and ि stands after its consonant.

Nothing happens at import time: fonts are searched and matplotlib's settings changed only
when you call these functions.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

__all__ = [
    "SCRIPTS",
    "KNOWN_FONTS",
    "FONT_INSTALL_HINT",
    "find_script_font",
    "use_script_font",
    "missing_glyphs",
    "font_rc",
    "text_shaping",
]

SCRIPTS: dict[str, tuple[int, int]] = {
    "devanagari": (0x0900, 0x097F),
    "bengali": (0x0980, 0x09FF),
    "tamil": (0x0B80, 0x0BFF),
    "arabic": (0x0600, 0x06FF),
    "cyrillic": (0x0400, 0x04FF),
    "greek": (0x0370, 0x03FF),
    "hebrew": (0x0590, 0x05FF),
    "thai": (0x0E00, 0x0E7F),
}
"""Unicode blocks (first, last code point) of scripts the search knows by name."""

KNOWN_FONTS: dict[str, tuple[str, ...]] = {
    "devanagari": (
        "Noto Sans Devanagari",  # Debian/Ubuntu fonts-noto-core, Google Fonts
        "Lohit Devanagari",  # Debian/Ubuntu fonts-lohit-deva, Fedora
        "Nirmala UI",  # Windows 8+
        "Kohinoor Devanagari",  # macOS
        "Devanagari Sangam MN",  # macOS
        "Mangal",  # older Windows
        "Mukta",
        "Gargi",
        "Samanata",
    ),
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


def _check_script(script) -> tuple[int, int]:
    if not isinstance(script, str):
        raise TypeError(f"script must be a str such as 'devanagari', got {type(script).__name__}")
    key = script.strip().lower()
    if key not in SCRIPTS:
        raise ValueError(f"unknown script {script!r}; known scripts: {', '.join(SCRIPTS)}")
    return SCRIPTS[key]


def _check_paths(extra_paths) -> list[Path]:
    if isinstance(extra_paths, (str, bytes, os.PathLike)):
        extra_paths = [extra_paths]
    try:
        paths = list(extra_paths)
    except TypeError:
        raise TypeError(f"extra_paths must be a list of font file paths, got {type(extra_paths).__name__}") from None
    out = []
    for p in paths:
        if not isinstance(p, (str, os.PathLike)):
            raise TypeError(f"extra_paths must hold str or path font files, got {type(p).__name__}")
        path = Path(p).expanduser()
        if path.is_dir():
            raise ValueError(f"font file {path} is a folder; give the .ttf/.otf file itself")
        if not path.is_file():
            raise ValueError(f"font file {path} does not exist")
        out.append(path)
    return out


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
    """The family name of an installed font that can draw ``script``, or ``None``.

    ``extra_paths`` (font files) are checked first, then the families of
    :data:`KNOWN_FONTS` in order, then every other system font. A font counts if its
    character map holds the script's letters (the name alone is not trusted). A font found
    is registered with matplotlib's font manager (fonts installed after matplotlib built its
    font cache are found too).

    Args:
        script: a key of :data:`SCRIPTS` (case-insensitive), e.g. ``"devanagari"``.
        extra_paths: ``.ttf``/``.otf`` files to try first.

    Returns:
        A family name usable in ``rcParams["font.family"]``, or ``None`` if none is installed.

    Raises:
        TypeError: ``script`` is not a str, or ``extra_paths`` holds a non-path.
        ValueError: unknown ``script``; an ``extra_paths`` file does not exist or is a folder
            (an unreadable file, or a font that does not cover the script, is skipped).
    """
    block = _check_script(script)
    extras = _check_paths(extra_paths)
    from matplotlib import font_manager

    known = KNOWN_FONTS.get(script.strip().lower(), ())
    candidates: list[tuple[int, str]] = []
    for path in extras:
        ok, family = _covers(path, block)
        if ok:
            font_manager.fontManager.addfont(str(path))
            return family
    system = font_manager.findSystemFonts(fontext="ttf")
    seen: dict[str, str] = {}
    for path in sorted(system):
        ok, family = _covers(path, block)
        if ok and family and family not in seen:
            seen[family] = path
    for family, path in seen.items():
        rank = known.index(family) if family in known else len(known)
        candidates.append((rank, family))
    if not candidates:
        return None
    family = sorted(candidates)[0][1]
    registered = {f.name for f in font_manager.fontManager.ttflist}
    if family not in registered:
        font_manager.fontManager.addfont(seen[family])
    return family


def use_script_font(script: str = "devanagari", extra_paths: Sequence[str | os.PathLike] = (), warn: bool = True) -> str | None:
    """Make matplotlib draw ``script`` for the rest of this session; return the font used.

    Sets ``rcParams["font.family"]`` to ``[<found font>, "DejaVu Sans"]`` and puts the found
    font first in ``rcParams["font.sans-serif"]``. Matplotlib picks, glyph by glyph, the
    first font of the list that has it (font fallback, matplotlib >= 3.6); the Devanagari
    fonts above also hold Latin letters, so a mixed label is drawn in one font and shaped as
    a whole. This changes global settings on purpose (a lesson calls it once, at the top);
    nothing is changed when no font is found.

    Args:
        script, extra_paths: as :func:`find_script_font`.
        warn: print :data:`FONT_INSTALL_HINT` when no font is found.

    Returns:
        The family name, or ``None`` when no installed font covers the script.

    Raises:
        TypeError, ValueError: as :func:`find_script_font`; ``warn`` not a bool.
    """
    if not isinstance(warn, bool):
        raise TypeError(f"warn must be True or False, got {warn!r}")
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
    """The current ``font.family`` and ``font.sans-serif`` settings, as an ``rc`` dict.

    Pass it to seaborn's temporary styles (``with sns.axes_style("white", rc=font_rc()):``),
    which otherwise reset the fonts to Arial/DejaVu Sans and lose a font chosen with
    :func:`use_script_font`.
    """
    import matplotlib

    return {
        "font.family": list(matplotlib.rcParams["font.family"]),
        "font.sans-serif": list(matplotlib.rcParams["font.sans-serif"]),
    }


def missing_glyphs(texts: str | Iterable[str], family: str | Sequence[str] | None = None) -> list[str]:
    """The characters of ``texts`` that none of the fonts of ``family`` can draw.

    Args:
        texts: one str or a list of str (e.g. a test set's references).
        family: a family name or a list of them (default: ``rcParams["font.family"]``,
            resolved through matplotlib's font manager as when drawing).

    Returns:
        The sorted distinct characters without a glyph (whitespace and control characters
        ignored); empty when everything can be drawn.

    Raises:
        TypeError: ``texts`` holds something other than str (or is a dict); ``family`` has the
            wrong type (not a str or a list/tuple of str).
        ValueError: ``family`` is empty or a blank name.
    """
    if isinstance(texts, str):
        texts = [texts]
    if isinstance(texts, (bytes, bytearray, dict)) or not hasattr(texts, "__iter__"):
        raise TypeError(f"texts must be str or a list of str, got {type(texts).__name__}")
    texts = list(texts)
    for t in texts:
        if not isinstance(t, str):
            raise TypeError(f"texts must be str or a list of str, got an item of type {type(t).__name__}")
    import matplotlib
    from matplotlib import font_manager, ft2font

    if family is None:
        family = list(matplotlib.rcParams["font.family"])
    elif isinstance(family, str):
        family = [family]
    elif not isinstance(family, (list, tuple)) or not all(isinstance(f, str) for f in family):
        raise TypeError(f"family must be a font family name or a list of them, got {family!r:.40}")
    if not family or any(not f.strip() for f in family):
        raise ValueError(f"family must name at least one font family (no blank names), got {family!r}")
    props = font_manager.FontProperties(family=list(family))
    try:  # the fallback chain matplotlib draws with (matplotlib >= 3.6)
        paths = font_manager.fontManager._find_fonts_by_props(props)
    except AttributeError:  # pragma: no cover - older matplotlib: the first font only
        paths = [font_manager.findfont(props)]
    charmaps = [ft2font.FT2Font(str(p)).get_charmap() for p in paths]
    chars = {c for t in texts for c in t if not c.isspace() and c.isprintable()}
    return sorted(c for c in chars if not any(ord(c) in cm for cm in charmaps))


def text_shaping() -> str | None:
    """The libraqm version matplotlib shapes text with, or ``None`` (no complex-script shaping).

    With libraqm, Devanagari conjuncts (क्ष, त्र, प्र) and the pre-base vowel sign ि are
    drawn correctly; without it the letters are there but not joined.
    """
    from matplotlib import ft2font

    version = getattr(ft2font, "__libraqm_version__", None)
    return str(version) if version else None
