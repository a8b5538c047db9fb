"""What :func:`~course_lib.decoding.beam_search` records for the beam explorer (``record_steps=True``):
one :class:`BeamStep` per step and sentence, its candidates as :class:`BeamCandidate` -- the beam
as a tree (:func:`course_lib.viz.beam_frames`, :func:`course_lib.widgets.beam_explorer`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List

from .beam import Hypothesis, _Beam, _Candidates


@dataclass
class BeamCandidate:
    """One candidate of a beam-search step: an open hypothesis of the step before, plus one word.

    Attributes:
        parent: index in the previous step's :attr:`BeamStep.kept` it extends (0 at step 0).
        token: the id of the word it appends (``<eos>`` for one that finishes).
        log_prob, score, cp: ``log P(Y|X)`` of the extended hypothesis (nats), ``s(Y, X) = log_prob / lp + cp``
            were it to end here, and the coverage penalty in it (0.0 when ``beta = 0``).
        rank, score_rank: its place by ``log_prob`` and by ``score`` (0 = best; cp can reorder).
        status: ``"kept"`` (stays open), ``"finished"`` (ended with ``<eos>``, entered the pool),
            ``"stopped"`` (open at ``max_len``, entered the pool unfinished) or ``"dropped"``.
    """
    parent: int
    token: int
    log_prob: float
    score: float
    cp: float
    rank: int
    score_rank: int
    status: str


@dataclass
class BeamStep:
    """What one step of :func:`beam_search` did for one sentence (``record_steps=True``).

    Attributes:
        step: 0-based target position.
        kept: the open hypotheses kept, best first (``score = log P / lp``, no attention).
        parents: for each of ``kept``, the index in the previous step's ``kept`` it extends.
        finished: the hypotheses that produced ``<eos>`` among the ``K`` best candidates, best
            first (score ``s(Y, X)``); at ``max_len`` also the open ones stopped there.
        candidates: the step's ``2K`` best extensions by ``log P`` (:class:`BeamCandidate`), in
            ``rank`` order: the beam as a tree. lp: their length normalisation ``lp(step + 1)``.
    """
    step: int
    kept: List[Hypothesis]
    parents: List[int]
    finished: List[Hypothesis]
    candidates: List[BeamCandidate] = field(default_factory=list)
    lp: float = 1.0



def record_step(steps, t, beam: _Beam, cand: _Candidates, score, cp, lp, order, ok, fin_new, fin_best, stop_best) -> None:
    """Append one :class:`BeamStep` per alive sentence; ``beam`` is the step's input (tokens: ``steps[b][-1].kept``)."""
    K = order.size(1)
    c_logp, c_score, c_cp, c_par, c_tok, c_valid, order, ok, fin_new = (x.tolist() for x in (
        cand.logp, score, cp, cand.parent, cand.token, cand.valid, order, ok, fin_new))
    pooled = [x and [{i - K for i in row if i >= K} for row in x] for x in (  # pool entries >= K are new ones
        None if fin_best is None else fin_best.tolist(), None if stop_best is None else stop_best.tolist())]
    for a, b in enumerate(beam.alive.tolist()):
        pre = [h.tokens for h in steps[b][-1].kept] if steps[b] else [[]]
        status = ["dropped"] * sum(c_valid[a])
        kept, parents, done = [], [], []
        for k in range(K):
            if fin_new[a][k]:  # candidate k ended with <eos>
                done.append(Hypothesis(list(pre[c_par[a][k]]), c_score[a][k], c_logp[a][k], None, True))
                status[k] = "finished" if k in pooled[0][a] else "dropped"
            if ok[a][k]:  # beam slot k holds candidate j
                j = order[a][k]
                kept.append(Hypothesis(pre[c_par[a][j]] + [c_tok[a][j]], c_logp[a][j] / lp, c_logp[a][j], None, False))
                parents.append(c_par[a][j])
                status[j] = "kept" if stop_best is None else "stopped" if k in pooled[1][a] else "dropped"
        if stop_best is not None:  # at max_len the open ones join the pool unfinished, with their full score
            done += [Hypothesis(h.tokens, c_score[a][order[a][k]], h.log_prob, None, False) for k, h in enumerate(kept)]
        by_score = sorted(range(len(status)), key=lambda j: -c_score[a][j])
        candidates = [BeamCandidate(c_par[a][j], c_tok[a][j], c_logp[a][j], c_score[a][j], c_cp[a][j], j,
                                    by_score.index(j), status[j]) for j in range(len(status))]
        steps[b].append(BeamStep(t, kept, parents, sorted(done, key=lambda h: -h.score), candidates, lp))
