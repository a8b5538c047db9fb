"""Subword pieces shown as words (issue 15 §2) in every figure and caption; lesson 06's titles apart."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course_lib import viz
from course_lib.checks import InputTypeError
from course_lib.decoding import StepTrace, Translation
from course_lib.training import History
from course_lib.viz import BeamEntry, display_text, display_tokens

PIECES = ["▁He", "'", "s", "▁a", "▁D", "J", ".", "<eos>"]  # lesson 06's source sentence, "He's a DJ."
SHOWN = ["He", "·'", "·s", "a", "D", "·J", "·.", "<eos>"]


def test_pieces_become_words_with_light_joiners():
    assert display_tokens(PIECES) == SHOWN
    assert display_text(PIECES) == "He·'·s a D·J·. <eos>"
    assert display_tokens(["▁to", "▁ek", "▁ahe", ".", "<eos>"]) == ["to", "ek", "ahe", "·.", "<eos>"]
    assert display_tokens(["▁star", "ring", "<unk>", "s"]) == ["star", "·ring", "<unk>", "·s"]
    assert display_tokens(["▁He", "▁", "(", "x"]) == ["He", "␣", "(", "·x"], "a lone ▁ is a space; a word starts after it"


def test_word_level_and_character_tokens_pass_through():
    words = ["a", "dog", "'s", "<eos>"]
    assert display_tokens(words) == words and display_text(words) == "a dog 's <eos>"
    chars = ["3", "▁", "m", "a", "y"]  # data.char_tokenize: a lone ▁ is a space, not a subword marker
    assert display_tokens(chars) == chars
    assert display_tokens([]) == [] and display_text([]) == ""
    assert display_tokens(["s", "▁a"], subwords=False) == ["s", "▁a"]
    assert display_tokens(["s"], subwords=True) == ["·s"]


@pytest.mark.parametrize("bad", ["▁He ' s", None, [1, 2], {"▁He": 1}])
def test_display_tokens_refuses_what_is_not_a_token_list(bad):
    with pytest.raises(InputTypeError):
        display_tokens(bad)
    with pytest.raises(InputTypeError, match="subwords"):
        display_tokens(PIECES, subwords="yes")


def test_heatmap_labels_are_words_and_word_labels_unchanged():
    tgt = ["▁to", "▁ek", "▁ahe", ".", "<eos>"]
    fig = viz.plot_attention(np.full((5, 8), 1 / 8), PIECES, tgt)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == SHOWN
    assert [t.get_text() for t in ax.get_yticklabels()] == ["to", "ek", "ahe", "·.", "<eos>"]
    words = viz.plot_attention(np.full((2, 2), 0.5), ["ein", "<eos>"], ["a", "<eos>"]).axes[0]
    assert [t.get_text() for t in words.get_xticklabels()] == ["ein", "<eos>"]


def test_stepper_shows_words():
    trace = [StepTrace(0, [], "▁to", ["▁to", "s"], [0.7, 0.2], [1 / 8] * 8),
             StepTrace(1, ["▁to"], "s", ["s", "▁ek"], [0.6, 0.3], [1 / 8] * 8)]
    caption, _ = viz.stepper_frame(trace, PIECES, 1)
    assert "He·&#x27;·s a D·J·. &lt;eos&gt;" in caption and "<i>to</i>" in caption and "<b>·s</b>" in caption
    fig = viz.plot_decoder_step(trace, PIECES, 1)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["·s", "ek"]
    assert [t.get_text() for t in fig.axes[1].get_xticklabels()] == SHOWN


def test_beam_figures_and_tables_show_words():
    frames = [[BeamEntry(("▁D",), -0.1), BeamEntry(("▁a",), -0.9)],
              [BeamEntry(("▁D", "J"), -0.3), BeamEntry(("▁D", "J", "<eos>"), -0.4, "finished"),
               BeamEntry(("▁a",), -0.9, "pruned")]]
    texts = [t.get_text() for t in viz.plot_beam_step(frames, 1).axes[0].texts]
    assert "D·J" in texts and "D·J <eos>" in texts and "a" in texts and not any("▁" in t for t in texts)
    tree = [t.get_text() for t in viz.plot_beam_tree(frames).axes[0].texts]
    assert "·J" in tree and "D" in tree and not any("▁" in t for t in tree)
    assert "<i>D·J</i>" in viz.beam_step_caption(frames, 1)
    assert "D·J" in viz.format_n_best([(["▁D", "J"], -0.3)])
    tr = Translation(src_tokens=PIECES, tokens=["▁to", "s"], attn_weights=torch.full((3, 8), 1 / 8), score=-1.0)
    table, png = viz.translator_frame(tr)
    assert "to·s" in table and png[:4] == b"\x89PNG"


def test_history_titles_do_not_overlap_and_partial_epochs_are_marked():
    long = "English -> Marathi, Bahdanau attention on subwords"
    h = History(steps=[{"step": i, "loss": 3.0 - 0.1 * i} for i in range(10)],
                epochs=[{"epoch": 1, "train_loss": 2.0, "val_loss": 2.2},
                        {"epoch": 2, "train_loss": 1.5, "val_loss": 1.9, "partial": True}])
    fig = viz.plot_history(h, long)
    assert fig.get_suptitle() == long
    assert [ax.get_title() for ax in fig.axes] == ["loss per batch", "loss per epoch"]
    fig.canvas.draw()
    left, right = (ax.title.get_window_extent() for ax in fig.axes)
    assert left.x1 < right.x0, "the two panel titles must not overlap"
    hollow = [line for line in fig.axes[1].lines if line.get_markerfacecolor() == "white"]
    assert len(hollow) == 2 and all(list(line.get_xdata()) == [2] for line in hollow)
    assert [t.get_text() for t in fig.axes[1].get_legend().get_texts()] == ["train", "partial epoch", "validation"]
