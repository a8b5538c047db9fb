"""The beam as a tree (issue 15 §3): plot_beam_tree / beam_frames / beam_step_caption over beam_search's
recorded candidates: nodes and edges follow kept/parents, statuses drawn, dropped candidates only at the
current step, and a promoted/demoted mark where the coverage penalty reorders the candidates."""

from __future__ import annotations

import pytest
import torch

from course_lib import viz
from course_lib.data import SPECIALS, Vocab
from course_lib.decoding import beam_search
from course_lib.viz import BeamEntry, beam_frames, beam_step_caption, plot_beam_step, plot_beam_tree
from tests.test_beam_search import EndAtSourceLength, batch, sharpen, tiny_models
from tests.test_decoding_beam_tree import AttendToPrevious

VOCAB = Vocab(list(SPECIALS) + [f"w{i}" for i in range(8)])  # ids 4..11, as the tiny models' 12 words


def drawn_tree(fig):
    """``{(x, y): (path of words from the root, status)}`` read back from the figure's nodes and edges."""
    ax = fig.axes[0]
    key = lambda x, y: (round(float(x), 3), round(float(y), 3))  # noqa: E731
    nodes = {key(*t.get_position()): (t.get_text(), t.get_gid()[5:]) for t in ax.texts
             if (t.get_gid() or "").startswith("node-")}
    parent = {}
    for line in ax.lines:
        if line.get_gid() == "edge":
            (x0, x1), (y0, y1) = line.get_xdata(), line.get_ydata()
            assert key(x1 + 0.12, y1) not in parent, "one edge into every node"
            parent[key(x1 + 0.12, y1)] = key(x0 - 0.12, y0)
    assert set(parent) == set(nodes), "every node hangs from its parent (or the root), and only nodes have edges"

    def path(xy):
        words = []
        while xy in nodes:
            words.append(nodes[xy][0])
            assert parent[xy][0] == xy[0] - 1, "an edge joins a node to the previous column"
            xy = parent[xy]
        return tuple(reversed(words))

    return {xy: (path(xy), status) for xy, (_, status) in nodes.items()}


def expected_tree(steps, upto, vocab=VOCAB):
    """The same, from the recorded steps: ``{(step, tokens): status}`` (a kept one pruned next step: "pruned")."""
    words = lambda ids: tuple(vocab.itos[i] for i in ids)  # noqa: E731
    out, previous = {}, [[]]
    for t, st in enumerate(steps[: upto + 1]):
        nxt = steps[t + 1].candidates if t < upto else None
        kept = 0
        for c in st.candidates:
            status = c.status
            if status == "kept":
                if nxt is not None and not any(n.parent == kept and n.status != "dropped" for n in nxt):
                    status = "pruned"
                kept += 1
            if status != "dropped" or t == upto:
                out[(t, words(previous[c.parent] + [c.token]))] = status
        previous = [h.tokens for h in st.kept]
    return out


def search(name="bahdanau", **kwargs):
    model = sharpen(tiny_models()[name])
    b = batch(n=3, seed=6)
    return beam_search(model, b.src, b.src_lens, record_steps=True, **kwargs)


@pytest.mark.parametrize("kwargs", [dict(beam_size=3, max_len=6, alpha=0.5, n_best=2),
                                    dict(beam_size=2, max_len=5, beta=0.7),
                                    dict(beam_size=5, max_len=8, alpha=1.0, beta=0.3, n_best=5)])
def test_tree_nodes_and_edges_follow_kept_parents_and_statuses(kwargs):
    out = search(**kwargs)
    for steps in out.steps:
        frames = beam_frames(steps, VOCAB)
        assert len(frames) == len(steps)
        for upto in range(len(steps)):
            drawn = drawn_tree(plot_beam_tree(frames, upto=upto))
            assert {(int(x), path): s for (x, _), (path, s) in drawn.items()} == expected_tree(steps, upto)
            kept_now = [s for (x, _), (_, s) in drawn.items() if x == upto and s in ("kept", "pruned")]
            assert len(kept_now) == sum(c.status == "kept" for c in steps[upto].candidates)
            assert all(x == upto for (x, _), (_, s) in drawn.items() if s == "dropped"), "dropped: this step only"


def test_statuses_of_a_search_that_finishes_and_one_stopped_by_max_len_are_drawn():
    vocab = Vocab(list(SPECIALS) + ["a", "b"])
    finishing = beam_search(EndAtSourceLength(), torch.tensor([[4, 4, 3]]), torch.tensor([3]), beam_size=2,
                            max_len=10, record_steps=True).steps
    statuses = set()
    for steps, v in [(s, vocab) for s in finishing] + [(s, VOCAB) for s in search(beam_size=2, max_len=2).steps]:
        frames = beam_frames(steps, v)
        for upto in range(len(frames)):
            drawn = drawn_tree(plot_beam_tree(frames, upto=upto))
            assert {(int(x), path): s for (x, _), (path, s) in drawn.items()} == expected_tree(steps, upto, v)
            statuses |= {s for _, s in drawn.values()}
    assert statuses == {"kept", "finished", "stopped", "dropped", "pruned"}


def promoting_search(beta):
    # word 5 is likelier than word 4, but after <sos> word 4 attends to the uncovered position 1
    model = AttendToPrevious([[0.01, 0.01, 0.01, 0.02, 0.45, 0.5]] * 3, 6)
    out = beam_search(model, torch.tensor([[4, 4, 3]]), torch.tensor([3]), beam_size=2, max_len=3, beta=beta,
                      record_steps=True)
    return out.steps[0], beam_frames(out.steps[0], Vocab(list(SPECIALS) + ["a", "b"]))


def test_coverage_penalty_that_reorders_candidates_gets_a_promoted_mark_and_a_legend():
    steps, frames = promoting_search(beta=0.5)
    moved = {e.moved for e in frames[1]}
    assert {"promoted", "demoted"} <= moved
    assert [(e.rank, e.score_rank) for e in frames[1] if e.rank is not None] == [
        (c.rank, c.score_rank) for c in steps[1].candidates]
    fig = plot_beam_tree(frames, upto=1)
    marks = {t.get_gid(): t.get_text() for t in fig.axes[0].texts if t.get_gid() in ("promoted", "demoted")}
    assert marks == {"promoted": "▲", "demoted": "▼"}
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "promoted by the coverage penalty" in legend and "demoted by the coverage penalty" in legend
    caption = beam_step_caption(frames, 1)
    assert "promoted by the coverage penalty" in caption and "by log P" in caption
    ticks = [t.get_text() for t in plot_beam_step(frames, 1).axes[0].get_yticklabels()]
    assert any("▲" in t for t in ticks) and any("▼" in t for t in ticks)
    _, plain = promoting_search(beta=0.0)
    assert not any(e.moved for f in plain for e in f)
    fig = plot_beam_tree(plain, upto=1)
    assert not [t for t in fig.axes[0].texts if t.get_gid() in ("promoted", "demoted")]
    assert "coverage" not in beam_step_caption(plain, 1)


def test_caption_names_the_dropped_candidates_of_the_step():
    steps = search(beam_size=3, max_len=6, alpha=0.5).steps[0]
    frames = beam_frames(steps, VOCAB)
    for t, st in enumerate(steps):
        dropped = [c for c in st.candidates if c.status == "dropped"]
        caption = beam_step_caption(frames, t)
        assert (f"{len(dropped)} dropped: " in caption) == bool(dropped)
        assert caption.count("<i>…") == len(dropped)


def test_max_steps_draws_the_last_steps_only():
    frames = beam_frames(search(beam_size=2, max_len=8).steps[0], VOCAB)
    n = len(frames)
    assert n >= 4
    fig = plot_beam_tree(frames, upto=n - 1, max_steps=3)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == [f"step {t + 1}" for t in range(n - 3, n)]
    assert "…" in [t.get_text() for t in fig.axes[0].texts] and f"steps {n - 2} to {n}" in fig.axes[0].get_title()
    assert {int(x) for x, _ in drawn_tree(fig)} == set(range(n - 3, n))
    assert len(plot_beam_tree(frames, upto=1, max_steps=5).axes[0].get_xticks()) == 2
    for bad in (0, -1, 1.5):
        with pytest.raises(ValueError, match="max_steps"):
            plot_beam_tree(frames, max_steps=bad)


def test_beam_entry_ranks_and_bad_candidates():
    assert BeamEntry(("a",), -1.0, "dropped", -1.0, 3, 1).moved == "promoted"
    assert BeamEntry(("a",), -1.0, "kept", -1.0, 0, 2).moved == "demoted"
    assert BeamEntry(("a",), -1.0).moved is None and BeamEntry(("a",), -1.0, rank=2, score_rank=2).moved is None
    for bad in (-1, 1.5, "1"):
        with pytest.raises(ValueError, match="rank"):
            BeamEntry(("a",), -1.0, rank=bad)
    steps = search(beam_size=2, max_len=3).steps[0]
    steps[1].candidates[0].parent = 7
    with pytest.raises(ValueError, match="parent"):
        beam_frames(steps, VOCAB)
    assert viz.BEAM_COLORS["dropped"] and set(viz.MOVE_MARKS) == {"promoted", "demoted"}
