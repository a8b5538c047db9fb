"""The beam explorer (lesson 06): the pure figure over a fake beam, then wired to beam_search."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace

import pytest
import torch
from matplotlib.figure import Figure

from course_lib import viz, widgets
from course_lib.data import EOS, SPECIALS, Vocab
from course_lib.decoding import greedy_decode
from course_lib.models import BahdanauConfig, BahdanauSeq2Seq, VanillaConfig, VanillaSeq2Seq
from course_lib.viz import BeamEntry, beam_frames, beam_step_caption, format_n_best, plot_beam_step
from tests.test_explorer import _find

VOCAB = Vocab(list(SPECIALS) + [f"w{i}" for i in range(8)])  # ids 4..11 are words


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def H(tokens, score, finished=False):
    return SimpleNamespace(tokens=list(tokens), score=score, log_prob=score, attn_weights=None, finished=finished)


def fake_steps():
    """Beam of 2: step 0 keeps w0, w1; step 1 extends w0 twice (w1 is pruned) and finishes 'w0 <eos>';
    step 2 finishes 'w0 w2 <eos>' and max_len stops 'w0 w3 w4'."""
    return [
        SimpleNamespace(step=0, kept=[H([4], -0.2), H([5], -1.0)], parents=[0, 0], finished=[]),
        SimpleNamespace(step=1, kept=[H([4, 6], -0.5), H([4, 7], -0.9)], parents=[0, 0],
                        finished=[H([4], -0.7, finished=True)]),
        SimpleNamespace(step=2, kept=[], parents=[], finished=[H([4, 6], -0.8, finished=True),
                                                              H([4, 7, 8], -1.5, finished=False)]),
    ]


def test_beam_frames_mark_kept_finished_stopped_and_pruned():
    frames = beam_frames(fake_steps(), VOCAB)
    assert len(frames) == 3
    status = [{(" ".join(e.tokens), e.status) for e in f} for f in frames]
    assert status[0] == {("w0", "kept"), ("w1", "kept")}
    assert status[1] == {("w0 w2", "kept"), ("w0 w3", "kept"), (f"w0 {EOS}", "finished"), ("w1", "pruned")}
    assert (f"w0 w2 {EOS}", "finished") in status[2] and ("w0 w3 w4", "stopped") in status[2]
    assert not any(st == "pruned" for _, st in status[2]), "w0 w3 continued into the stopped w0 w3 w4"


def test_plot_beam_step_draws_one_bar_per_entry_and_changes_with_the_step():
    frames = beam_frames(fake_steps(), VOCAB)
    pngs = set()
    for t in range(3):
        fig = plot_beam_step(frames, t)
        assert isinstance(fig, Figure)
        assert len(fig.axes[0].patches) == len(frames[t])
        pngs.add(md5(viz.figure_to_png(fig)))
    assert len(pngs) == 3
    assert "1 pruned" in beam_step_caption(frames, 1) and "step 2 of 3" in beam_step_caption(frames, 1)
    assert plot_beam_step(frames, 1, max_rows=2).axes[0].patches.__len__() == 2


def test_beam_tree_grows_with_the_steps_and_crosses_out_pruned_hypotheses():
    from course_lib.viz import plot_beam_tree

    frames = beam_frames(fake_steps(), VOCAB)
    words = [[t.get_text() for t in plot_beam_tree(frames, upto=u).axes[0].texts] for u in range(3)]
    assert words[0].count("w0") == 1 and "w2" not in words[0]
    assert "w2" in words[1] and EOS in words[1] and "w4" not in words[1]
    assert "w4" in words[2]
    assert any(w.endswith("✕") for w in words[1]), "w1, pruned at step 2, is crossed out at step 1"
    assert not any(w.endswith("✕") for w in words[0]), "nothing is known to be pruned yet at step 1"
    assert len(words[2]) > len(words[1]) > len(words[0])
    assert len(plot_beam_tree(frames).axes[0].texts) == len(words[2])
    for upto in (-1, 3, 1.0):
        with pytest.raises(ValueError, match="upto"):
            plot_beam_tree(frames, upto)
    with pytest.raises(ValueError, match="empty"):
        plot_beam_tree([])


def test_beam_figure_bad_input():
    frames = beam_frames(fake_steps(), VOCAB)
    for step in (-1, 3):
        with pytest.raises(ValueError, match="outside"):
            plot_beam_step(frames, step)
        with pytest.raises(ValueError, match="outside"):
            beam_step_caption(frames, step)
    with pytest.raises(ValueError, match="empty"):
        plot_beam_step([], 0)
    with pytest.raises(TypeError):
        plot_beam_step([["w0"]], 0)
    with pytest.raises(ValueError, match="max_rows"):
        plot_beam_step(frames, 0, max_rows=0)
    with pytest.raises(TypeError, match="str"):
        BeamEntry("w0 w1", -1.0)
    with pytest.raises(ValueError, match="status"):
        BeamEntry(("w0",), -1.0, "lost")
    with pytest.raises(ValueError, match="NaN"):
        BeamEntry(("w0",), float("nan"))
    with pytest.raises(ValueError, match="empty"):
        beam_frames([], VOCAB)
    with pytest.raises(TypeError, match="BeamStep"):
        beam_frames([[1, 2]], VOCAB)
    with pytest.raises(TypeError, match="Vocab"):
        beam_frames(fake_steps(), {"w0": 4})
    with pytest.raises(ValueError, match="empty"):
        format_n_best([])
    with pytest.raises(TypeError, match="str"):
        format_n_best([("w0 w1", -1.0)])
    assert "&lt;eos&gt;" in format_n_best([(["w0", EOS], -1.0)])


def tiny_model(attention=True, seed=0):
    torch.manual_seed(seed)
    if attention:
        model = BahdanauSeq2Seq(12, 12, BahdanauConfig(emb_dim=8, enc_hidden_dim=8, dec_hidden_dim=8, attn_dim=8,
                                                       dropout=0.0))
    else:
        model = VanillaSeq2Seq(12, 12, VanillaConfig(emb_dim=8, hidden_dim=8, num_layers=1, dropout=0.0))
    with torch.no_grad():  # peaked, varied next-word distributions, as a trained model has
        layer = model.out
        layer.weight.mul_(4.0)
        layer.bias.normal_(0, 1.5)
    return model.eval()


def test_beam_view_of_size_one_keeps_one_hypothesis_per_step_and_equals_greedy():
    model = tiny_model()
    view = widgets.beam_view(model, ["w1", "w2", "w3"], VOCAB, VOCAB, beam_size=1, max_len=8)
    assert view.frames
    for f in view.frames[:-1]:
        assert sum(e.status == "kept" for e in f) == 1, "a beam of one keeps one hypothesis per step"
    assert all(sum(e.status == "kept" for e in f) <= 1 and sum(e.status == "finished" for e in f) <= 1
               for f in view.frames)
    png = [md5(viz.figure_to_png(plot_beam_step(view.frames, t))) for t in range(len(view.frames))]
    assert len(set(png)) == len(png)
    src = torch.tensor([[VOCAB["w1"], VOCAB["w2"], VOCAB["w3"], VOCAB.eos_id]])
    greedy = greedy_decode(model, src, torch.tensor([4]), max_len=8)
    expected = [VOCAB.itos[i] for i in greedy.hypotheses(VOCAB.eos_id)[0]]
    tokens, _ = view.n_best[0]
    assert [t for t in tokens if t != EOS] == expected


def test_beam_view_larger_beams_keep_more_and_return_the_n_best():
    view = widgets.beam_view(tiny_model(), ["w1", "w2", "w3"], VOCAB, VOCAB, beam_size=4, n_best=3, max_len=8)
    assert max(sum(e.status == "kept" for e in f) for f in view.frames) == 4
    scores = [s for _, s in view.n_best]
    assert len(view.n_best) == 3 and scores == sorted(scores, reverse=True)


def test_beam_view_cut_by_max_len_lists_each_hypothesis_once():
    model = tiny_model()
    with torch.no_grad():
        model.out.bias[VOCAB.eos_id] = -20.0  # never finishes: max_len stops every hypothesis
    view = widgets.beam_view(model, ["w1", "w2"], VOCAB, VOCAB, beam_size=3, n_best=3, max_len=3)
    assert len(view.frames) == 3
    last = view.frames[-1]
    assert {e.status for e in last} <= {"stopped", "dropped", "pruned"} and sum(e.status == "stopped" for e in last) == 3
    listed = [e.tokens for e in last if e.status not in ("dropped", "pruned")]  # dropped: candidates left out
    assert len(listed) == len(set(listed)), "a hypothesis stopped by max_len is not also shown as kept"
    assert all(EOS not in tokens for tokens, _ in view.n_best) and len(view.n_best) == 3


def test_beam_view_bad_input():
    model = tiny_model()
    with pytest.raises(TypeError, match=r"list of (str )?tokens"):
        widgets.beam_view(model, "w1 w2", VOCAB, VOCAB)
    with pytest.raises(ValueError, match="empty"):
        widgets.beam_view(model, [], VOCAB, VOCAB)
    with pytest.raises(ValueError, match="beam_size"):
        widgets.beam_view(model, ["w1"], VOCAB, VOCAB, beam_size=0)
    with pytest.raises(ValueError, match="alpha"):
        widgets.beam_view(model, ["w1"], VOCAB, VOCAB, alpha=float("nan"))
    with pytest.raises(ValueError, match="beta"):
        widgets.beam_view(model, ["w1"], VOCAB, VOCAB, beta=-0.5)
    with pytest.raises(TypeError, match="Vocab"):
        widgets.beam_view(model, ["w1"], VOCAB, None)
    with pytest.raises(ValueError, match="tgt_vocab has 13 tokens but the model was built for 12"):
        widgets.beam_view(model, ["w1"], VOCAB, Vocab(VOCAB.itos + ["extra"]))
    with pytest.raises(TypeError, match="Seq2Seq"):
        widgets.beam_view("model", ["w1"], VOCAB, VOCAB)
    with pytest.raises(ValueError, match="coverage"):
        widgets.beam_view(tiny_model(attention=False), ["w1"], VOCAB, VOCAB, beta=0.5)


def test_beam_explorer_sliders_change_the_picture():
    pytest.importorskip("ipywidgets")
    box = widgets.beam_explorer(tiny_model(), "w1 w2 w3", str.split, VOCAB, VOCAB, beam_size=2, max_len=8)
    image, step, nbest = (_find(box, c) for c in ("beam-figure", "beam-step-slider", "beam-nbest"))
    size, alpha, beta = (_find(box, c) for c in ("beam-size", "beam-alpha", "beam-beta"))
    assert None not in (image, step, nbest, size, alpha, beta, _find(box, "beam-caption"), _find(box, "beam-tree"),
                        _find(box, "beam-play"))
    assert step.max >= 1
    first, first_tree = md5(image.value), md5(_find(box, "beam-tree").value)
    step.value = 1
    assert md5(image.value) != first, "the step slider moves through the search"
    assert md5(_find(box, "beam-tree").value) != first_tree, "the tree grows with the step"
    before, before_nbest = md5(image.value), nbest.value
    size.value = 5
    assert step.value == 0 and md5(image.value) != before, "a new beam size reruns the search"
    assert "beam size 5" in nbest.value and nbest.value != before_nbest
    at_size5 = nbest.value
    alpha.value = 1.0
    assert "α = 1.0" in nbest.value and nbest.value != at_size5
    beta.value = 0.5
    assert "β = 0.50" in nbest.value


def test_beam_explorer_without_attention_disables_beta_and_refuses_bad_settings():
    pytest.importorskip("ipywidgets")
    model = tiny_model(attention=False)
    box = widgets.beam_explorer(model, "w1 w2", str.split, VOCAB, VOCAB, max_len=6)
    assert _find(box, "beam-beta").disabled
    with pytest.raises(ValueError, match="coverage"):
        widgets.beam_explorer(model, "w1 w2", str.split, VOCAB, VOCAB, beta=0.2)
    with pytest.raises(ValueError, match="beam_size"):
        widgets.beam_explorer(model, "w1", str.split, VOCAB, VOCAB, beam_size=11)
    with pytest.raises(ValueError, match="alpha"):
        widgets.beam_explorer(model, "w1", str.split, VOCAB, VOCAB, alpha=3.0)
    with pytest.raises(TypeError, match="str"):
        widgets.beam_explorer(model, ["w1"], str.split, VOCAB, VOCAB)
    with pytest.raises(ValueError, match="no tokens"):
        widgets.beam_explorer(model, "  ", str.split, VOCAB, VOCAB)
    with pytest.raises(TypeError, match="callable"):
        widgets.beam_explorer(model, "w1", None, VOCAB, VOCAB)
