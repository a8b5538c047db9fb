"""beam_search(record_steps=True) as a tree: every candidate of every step, its parent, scores, ranks and status."""

import math

import pytest
import torch

from course_lib.decoding import BeamCandidate, BeamStep, beam_search, length_penalty
from course_lib.models.base import StepOutput
from tests.test_beam_search import EndAtSourceLength, TableModel, batch, sharpen, tiny_models

STATUSES = {"kept", "finished", "stopped", "dropped"}


def _search(name="bahdanau", **kwargs):
    model = sharpen(tiny_models()[name])
    b = batch(n=3, seed=6)
    return model, beam_search(model, b.src, b.src_lens, record_steps=True, **kwargs)


@pytest.mark.parametrize("kwargs", [dict(beam_size=3, max_len=6, alpha=0.5, n_best=2),
                                    dict(beam_size=2, max_len=5, alpha=0.0, beta=0.7),
                                    dict(beam_size=4, max_len=4, alpha=1.0, beta=0.3, n_best=4)])
def test_candidates_match_the_kept_and_finished_lists(kwargs):
    model, out = _search(**kwargs)
    K = kwargs["beam_size"]
    for steps in out.steps:
        previous = [[]]  # the empty prefix at step 0
        for st in steps:
            assert isinstance(st, BeamStep) and st.lp == pytest.approx(length_penalty(st.step + 1, kwargs["alpha"]))
            cands = st.candidates
            assert 1 <= len(cands) <= 2 * K and all(isinstance(c, BeamCandidate) for c in cands)
            assert [c.rank for c in cands] == list(range(len(cands)))
            assert [c.log_prob for c in cands] == sorted((c.log_prob for c in cands), reverse=True)
            assert sorted(c.score_rank for c in cands) == list(range(len(cands)))
            by_score = sorted(cands, key=lambda c: c.score_rank)
            assert [c.score for c in by_score] == sorted((c.score for c in cands), reverse=True)
            for c in cands:
                assert c.status in STATUSES and 0 <= c.parent < len(previous)
                assert c.score == pytest.approx(c.log_prob / st.lp + c.cp, abs=1e-5)
                assert c.cp == 0.0 if kwargs.get("beta", 0) == 0 else c.cp <= 0
            open_ = [c for c in cands if c.status in ("kept", "stopped")]
            if st.step < kwargs["max_len"] - 1:  # the kept hypotheses are the kept candidates, in order
                assert [previous[c.parent] + [c.token] for c in open_] == [h.tokens for h in st.kept]
                assert [c.parent for c in open_] == st.parents
            else:  # at max_len the open beam stops: nothing is kept open
                assert all(c.status != "kept" for c in cands)
                assert all(previous[c.parent] + [c.token] in [h.tokens for h in st.kept] for c in open_)
            assert len(open_) <= K
            done = {(tuple(h.tokens), h.finished) for h in st.finished}
            for c in cands:
                if c.status == "finished":
                    assert c.token == model.eos_id and (tuple(previous[c.parent]), True) in done
                if c.status == "stopped":
                    assert (tuple(previous[c.parent] + [c.token]), False) in done
            previous = [h.tokens for h in st.kept]


def test_final_hypotheses_are_finished_or_stopped_candidates():
    model, out = _search(beam_size=3, max_len=6, alpha=0.6, beta=0.4, n_best=3)
    for hyps, steps in zip(out.hypotheses, out.steps):
        entered = set()
        previous = [[]]
        for st in steps:
            for c in st.candidates:
                if c.status == "finished":
                    entered.add((tuple(previous[c.parent]), True, round(c.score, 4)))
                elif c.status == "stopped":
                    entered.add((tuple(previous[c.parent] + [c.token]), False, round(c.score, 4)))
            previous = [h.tokens for h in st.kept]
        for h in hyps:
            assert (tuple(h.tokens), h.finished, round(h.score, 4)) in entered


class AttendToPrevious(TableModel):
    """Attention one-hot on source position ``prev % S``, so beams with other words cover other positions."""

    def decode_step(self, prev_tokens, state, enc):
        out = super().decode_step(prev_tokens, state, enc)
        S = enc["enc_outputs"].size(1)
        return StepOutput(out.logits, out.state, torch.nn.functional.one_hot(prev_tokens % S, S).float())


def test_without_coverage_penalty_the_two_ranks_agree_and_with_it_they_can_differ():
    _, plain = _search(beam_size=3, max_len=6, alpha=0.8)
    assert all(c.rank == c.score_rank and c.cp == 0.0 for s in plain.steps for st in s for c in st.candidates)
    # word 5 is likelier than word 4, but after <sos> (position 2) word 4 attends to the uncovered position 1
    model = AttendToPrevious([[0.01, 0.01, 0.01, 0.02, 0.45, 0.5]] * 3, 6)
    src, lens = torch.tensor([[4, 4, 3]]), torch.tensor([3])
    step1 = beam_search(model, src, lens, beam_size=2, max_len=3, beta=0.5, record_steps=True).steps[0][1]
    top = min(step1.candidates, key=lambda c: c.score_rank)
    assert top.rank > 0
    assert step1.candidates[0].cp < top.cp, "the best by log P covers less of the source, so the penalty demotes it"
    assert [c.rank for c in sorted(step1.candidates, key=lambda c: c.score_rank)] != list(range(len(step1.candidates)))


def test_sentences_that_finish_early_record_finished_and_dropped_candidates():
    model = EndAtSourceLength()
    src = torch.tensor([[4, 3, 0, 0, 0, 0], [4, 4, 4, 4, 4, 3]])
    out = beam_search(model, src, torch.tensor([2, 6]), beam_size=2, max_len=30, record_steps=True)
    short = out.steps[0]
    assert len(short) < len(out.steps[1]), "a finished sentence stops being recorded"
    statuses = [c.status for st in short for c in st.candidates]
    assert "finished" in statuses and "dropped" in statuses and "stopped" not in statuses
    assert math.isfinite(short[-1].candidates[0].score)


def test_max_len_turns_the_open_beam_into_stopped_candidates():
    _, out = _search("vanilla", beam_size=2, max_len=2)
    last = out.steps[0][-1]
    assert {c.status for c in last.candidates} <= STATUSES - {"kept"}
    stopped = [c for c in last.candidates if c.status == "stopped"]
    assert stopped and all(any(not h.finished and h.score == pytest.approx(c.score) for h in last.finished)
                           for c in stopped)


def test_beam_frames_still_reads_the_recorded_steps():
    from course_lib.data import SPECIALS, Vocab
    from course_lib.viz import beam_frames

    _, out = _search(beam_size=3, max_len=5, alpha=0.5, beta=0.2)
    vocab = Vocab(list(SPECIALS) + [f"w{i}" for i in range(4, 12)])
    frames = beam_frames(out.steps[0], vocab)
    assert len(frames) == len(out.steps[0]) and all(frames)


def test_beam_step_built_by_hand_has_no_candidates():
    step = BeamStep(0, [], [], [])
    assert step.candidates == [] and step.lp == 1.0
