"""course_lib.fonts: finding a font for a script, using it, and checking glyph coverage."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from course_lib import fonts, viz

DEVANAGARI_TEXT = "मी घरी जातो. क्षत्रिय"


@pytest.fixture
def restore_rc():
    saved = fonts.font_rc()
    yield
    matplotlib.rcParams.update(saved)


def test_dejavu_has_no_devanagari():
    missing = fonts.missing_glyphs(DEVANAGARI_TEXT, family="DejaVu Sans")
    assert "म" in missing and "." not in missing and " " not in missing


def test_found_font_really_covers_devanagari(restore_rc):
    family = fonts.find_script_font("devanagari")
    if family is None:
        pytest.skip("no Devanagari font installed (apt-get install fonts-lohit-deva)")
    assert fonts.missing_glyphs(DEVANAGARI_TEXT + " I go <eos>", family=[family, "DejaVu Sans"]) == []
    assert fonts.use_script_font("Devanagari") == family
    assert matplotlib.rcParams["font.family"][0] == family
    assert fonts.missing_glyphs(DEVANAGARI_TEXT) == []
    # seaborn's temporary style inside plot_attention keeps the font: no missing-glyph warning
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = viz.plot_attention(np.full((2, 2), 0.5), ["I", "go"], ["मी", "जातो"], title=DEVANAGARI_TEXT)
        viz.figure_to_png(fig)
    assert not [w for w in caught if "missing from font" in str(w.message)]


def test_font_rc_is_a_copy():
    rc = fonts.font_rc()
    assert set(rc) == {"font.family", "font.sans-serif"}
    rc["font.family"].append("x")
    assert "x" not in matplotlib.rcParams["font.family"]


@pytest.mark.parametrize("script,exc", [(3, TypeError), (None, TypeError), ("klingon", ValueError), ("", ValueError)])
def test_bad_script(script, exc):
    with pytest.raises(exc):
        fonts.find_script_font(script)


def test_bad_extra_paths(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        fonts.find_script_font("devanagari", extra_paths=[tmp_path / "nope.ttf"])
    with pytest.raises(TypeError):
        fonts.find_script_font("devanagari", extra_paths=[3])
    with pytest.raises(TypeError):
        fonts.find_script_font("devanagari", extra_paths=5)


def test_an_unusable_extra_file_is_skipped(tmp_path):
    junk = tmp_path / "junk.ttf"
    junk.write_bytes(b"not a font")
    assert fonts.find_script_font("devanagari", extra_paths=str(junk)) == fonts.find_script_font("devanagari")


def test_no_font_prints_the_hint(monkeypatch, capsys, restore_rc):
    monkeypatch.setattr(fonts, "find_script_font", lambda script, extra_paths=(): None)
    before = fonts.font_rc()
    assert fonts.use_script_font("devanagari") is None
    assert "fonts-noto-core" in capsys.readouterr().out
    assert fonts.font_rc() == before
    with pytest.raises(TypeError):
        fonts.use_script_font("devanagari", warn="yes")


def test_missing_glyphs_bad_input():
    with pytest.raises(TypeError):
        fonts.missing_glyphs(["ok", 3])
    for bad in (None, 3, b"bytes"):
        with pytest.raises(TypeError):
            fonts.missing_glyphs(bad)
    with pytest.raises(TypeError):
        fonts.missing_glyphs("ok", family=[3])
    assert fonts.missing_glyphs([]) == []


def test_text_shaping_is_reported():
    version = fonts.text_shaping()
    assert version is None or isinstance(version, str)
