"""Batched beam search with GNMT's scoring (Wu et al. 2016, sec. 7, eq. 14), one step in four parts
as in OpenNMT-py: :func:`_expand`, :func:`_score`, :func:`_select`, :func:`_finish`."""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral
from typing import List, Optional

import torch
from torch import Tensor

from ..checks import InputTypeError, check_flag, check_int, check_real, check_tensor, require
from ..models.base import Seq2Seq, select_batch
from ..utils import eval_mode
from .greedy import _check_search, _default_max_len

NEG_INF = float("-inf")


def __getattr__(name: str):
    """``BeamStep`` and ``BeamCandidate`` live in :mod:`.beam_record`; the old import path still works."""
    if name in ("BeamStep", "BeamCandidate"):
        from . import beam_record
        return getattr(beam_record, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _lp(length, alpha: float):
    return ((5.0 + (length.float() if isinstance(length, Tensor) else float(length))) / 6.0) ** alpha


def length_penalty(length, alpha: float):
    """GNMT's length normalisation ``lp(Y) = (5 + |Y|)^alpha / (5 + 1)^alpha`` (Wu et al. 2016, eq. 14).

    ``length = |Y|`` (``<eos>`` included): an int or integer tensor ``>= 0``; ``alpha >= 0`` (0 gives 1).
    Raises ValueError for a negative or non-finite argument (InputTypeError: not numbers).
    """
    alpha = check_real(alpha, "alpha", low=0.0)
    if not isinstance(length, Tensor):
        return _lp(check_int(length, "length", low=0), alpha)
    check_tensor(length, "length", kind="int")
    require(not length.numel() or int(length.min()) >= 0, f"length must be >= 0 (with <eos>), got {length.tolist()}")
    return _lp(length, alpha)


def _cp(coverage: Tensor, src_pad_mask: Tensor, beta: float) -> Tensor:
    logs = coverage.float().clamp(min=1e-10, max=1.0).log().masked_fill(src_pad_mask, 0.0)
    return beta * logs.sum(-1)


def coverage_penalty(coverage: Tensor, src_pad_mask: Tensor, beta: float) -> Tensor:
    """GNMT's coverage penalty ``cp(X; Y) = beta * sum_i log(min(sum_j p_ij, 1.0))`` (Wu et al. 2016, eq. 14).

    ``coverage [..., S]`` (float): ``sum_j p_ij``, the attention source word ``i`` got so far (0 is floored at
    ``1e-10``); ``src_pad_mask`` (bool, True at padding: excluded) broadcasts to it. Returns ``[...]``, ``<= 0``.
    Raises ValueError: ``beta < 0`` or not finite, ``coverage`` negative or NaN, a mask that does not broadcast
    to ``coverage`` (or widens it); InputTypeError: wrong dtypes.
    """
    beta = check_real(beta, "beta", low=0.0)
    check_tensor(coverage, "coverage", kind="float")
    check_tensor(src_pad_mask, "src_pad_mask", kind="bool")
    try:
        fits = coverage.dim() > 0 and torch.broadcast_shapes(coverage.shape, src_pad_mask.shape) == coverage.shape
    except RuntimeError:
        fits = False
    if not fits or (coverage.numel() and not bool((coverage >= 0).all())):
        raise ValueError(f"coverage must be >= 0 (summed attention), got {coverage!r:.50}" if fits else f"src_pad_mask"
                         f" {tuple(src_pad_mask.shape)} must broadcast to coverage {tuple(coverage.shape)} (not widen)")
    return _cp(coverage, src_pad_mask, beta)


@dataclass
class Hypothesis:
    """One hypothesis of :func:`beam_search`.

    Attributes:
        tokens: generated target ids, ``<sos>`` and the final ``<eos>`` excluded.
        score, log_prob: ``s(Y, X)`` (eq. 14; ``log P / lp`` for an open one in :attr:`BeamStep.kept`)
            and ``log P(Y|X)`` in nats, ``<eos>`` included.
        attn_weights: ``[len(tokens) + finished, S_i]`` (the last row is ``<eos>``'s step; ``S_i`` the
            real source length); ``None`` without attention and in :attr:`BeamSearchOutput.steps`.
        finished: True when it ended with ``<eos>``, False when ``max_len`` stopped it.

    Raises InputTypeError: ``tokens`` not a list of integer ids; ``finished`` not a bool.
    """
    tokens: List[int]
    score: float
    log_prob: float
    attn_weights: Optional[Tensor]
    finished: bool

    def __post_init__(self) -> None:
        if not isinstance(self.tokens, (list, tuple)) or any(isinstance(t, bool) or not isinstance(t, Integral)
                                                              for t in self.tokens):
            raise InputTypeError(f"Hypothesis.tokens must be a list of int ids (Vocab.encode), got {self.tokens!r:.40}")
        self.finished = check_flag(self.finished, "Hypothesis.finished")

    @property
    def length(self) -> int:
        """``|Y|`` of the length penalty: ``len(tokens)``, plus one for ``<eos>`` when finished."""
        return len(self.tokens) + int(self.finished)


@dataclass
class BeamSearchOutput:
    """Result of :func:`beam_search`: per sentence, up to ``n_best`` distinct :class:`Hypothesis`
    (``hypotheses``), best first, and with ``record_steps`` one :class:`BeamStep` per step (``steps``)."""
    hypotheses: List[List[Hypothesis]]
    steps: Optional[List[List[BeamStep]]] = None

    def best(self) -> List[Hypothesis]:
        """The best hypothesis of every sentence (ValueError for a sentence without any, built by hand)."""
        empty = next((i for i, h in enumerate(self.hypotheses) if len(h) == 0), None)
        require(empty is None, f"sentence {empty} has no hypothesis (beam_search gives each at least one)")
        return [h[0] for h in self.hypotheses]


def _check_beam_args(model, beam_size, alpha, beta, n_best) -> tuple[int, float, float, int]:
    beam_size = check_int(beam_size, "beam_size", low=1)
    n_best = check_int(n_best, "n_best", low=1, high=beam_size)  # the pool holds beam_size hypotheses
    alpha, beta = check_real(alpha, "alpha", low=0.0), check_real(beta, "beta", low=0.0)
    require(beta == 0 or getattr(model, "has_attention", False),
            f"{type(model).__name__} has no attention, so the coverage penalty is undefined; use beta=0")
    return beam_size, alpha, beta, n_best


@torch.no_grad()
def beam_search(model: Seq2Seq, src: Tensor, src_lens: Tensor, beam_size: int = 5, max_len: Optional[int] = None,
                alpha: float = 0.0, beta: float = 0.0, n_best: int = 1, record_steps: bool = False) -> BeamSearchOutput:
    """Batched beam search with GNMT's scoring (Wu et al. 2016, sec. 7, eq. 14).

    Finds, per sentence, the target ``Y`` that maximises::

        s(Y, X) = log P(Y|X) / lp(Y) + cp(X; Y)
        lp(Y)   = (5 + |Y|)^alpha / (5 + 1)^alpha            (length normalisation)
        cp(X;Y) = beta * sum_i log(min(sum_j p_ij, 1.0))    (coverage penalty)

    ``|Y|`` counts ``<eos>``; ``p_ij``: attention of target step ``j`` on source position ``i``. A sentence is done
    when its pool of ``K`` finished hypotheses is full and no open one can beat its worst; at ``max_len`` the open
    ones join the pool unfinished. ``K = 1``, ``alpha = beta = 0`` is :func:`greedy_decode`.

    ``model``, ``src``, ``src_lens``, ``max_len``: as in :func:`greedy_decode`; ``beam_size``: ``K >= 1``;
    ``1 <= n_best <= K`` hypotheses are returned per sentence; ``alpha, beta >= 0`` (0 = off; Wu et
    al. use 0.2 and 0.2; ``beta > 0`` needs attention); ``record_steps`` also returns every step's
    beam and candidates (:class:`BeamStep`) for the beam explorer.

    Raises:
        ValueError: ``src``/``src_lens`` as in :func:`greedy_decode`; ``beam_size``, ``n_best`` or ``max_len``
            below 1, ``n_best > beam_size``; ``alpha``/``beta`` negative or not finite; ``beta > 0`` without
            attention; a wrong type (InputTypeError).
    """
    max_len = _check_search(model, max_len)
    K, alpha, beta, n_best = _check_beam_args(model, beam_size, alpha, beta, n_best)
    return _beam(model, src, src_lens, K, max_len, alpha, beta, n_best,
                 check_flag(record_steps, "record_steps"))


@dataclass
class _Beam:
    """The open hypotheses of the ``A`` sentences still searched, ``Kc`` each (1 at step 0, then K)."""
    alive: Tensor  # [A] sentence numbers
    logp: Tensor  # [A, Kc] log P (-inf: an empty slot)
    mask: Tensor  # [A, S] src_pad_mask
    coverage: Optional[Tensor] = None  # [A, Kc, S] attention summed over the steps so far


@dataclass
class _Candidates:
    """Each sentence's ``2K`` best one-word extensions, best ``log P`` first (``[A, 2K]`` each)."""
    logp: Tensor
    parent: Tensor  # the beam each extends
    token: Tensor
    valid: Tensor  # False on padding slots (fewer than 2K candidates)
    is_eos: Tensor


def _expand(logits: Tensor, beam_logp: Tensor, K: int, eos: int) -> _Candidates:
    """1. Expand: ``log P`` of every continuation of every beam (logits ``[A*Kc, V]``); the ``2K`` best per
    sentence (only a beam's ``2K`` best words can be among them, so the choice runs over ``Kc * 2K``, not
    ``Kc * V``). The ``2K`` best by ``log P`` are also the best by ``log P / lp``: open ones have equal length."""
    A, Kc = beam_logp.shape
    n_row = min(2 * K, logits.size(-1))
    row_top, row_tok = logits.topk(n_row, dim=-1)  # [A*Kc, n_row]
    row_logp = row_top - torch.logsumexp(logits, dim=-1, keepdim=True)
    cand = (beam_logp.unsqueeze(-1) + row_logp.view(A, Kc, n_row)).view(A, Kc * n_row)
    if cand.size(1) < 2 * K:  # fewer candidates than 2K (step 0 with a tiny vocabulary)
        cand = torch.cat([cand, cand.new_full((A, 2 * K - cand.size(1)), NEG_INF)], dim=1)
    logp, idx = cand.topk(2 * K, dim=1)
    idx = idx.clamp(max=Kc * n_row - 1)  # padded slots are -inf (invalid) anyway
    token = row_tok.view(A, Kc * n_row).gather(1, idx)
    return _Candidates(logp, idx // n_row, token, logp > NEG_INF, token == eos)


def _score(cand: _Candidates, cover: Optional[Tensor], mask: Tensor, lp: float, beta: float) -> tuple[Tensor, Tensor]:
    """2. Score: ``(score, cp)`` of every candidate, ``s(Y, X) = log P / lp + cp`` (``cover``: coverage with this step)."""
    score = cand.logp / lp
    if beta == 0:
        return score, torch.zeros_like(score)
    cp = _cp(cover, mask.unsqueeze(1), beta).gather(1, cand.parent)
    return score + cp, cp


def _select(cand: _Candidates, K: int) -> tuple[Tensor, Tensor]:
    """3. Select: ``(order, ok)`` ``[A, K]``, the ``K`` best candidates not ending in ``<eos>``, and False on empty slots."""
    n = cand.logp.size(1)
    rank = torch.arange(n, device=cand.logp.device).expand_as(cand.logp)
    stays = cand.valid & ~cand.is_eos
    order = torch.where(stays, rank, rank + n).argsort(dim=1)[:, :K]
    return order, stays.gather(1, order)


class _Pool:
    """The finished hypotheses of every sentence, ``[B, K]`` each, best first (score ``-inf``: empty), by their
    last step (``end``, ``tok``, ``attn``, and ``ptr``: the beam they extend); :func:`_backtrack` reads ``history``."""

    def __init__(self, B: int, K: int, S: int, pad: int, device):
        self.score, self.logp = torch.full((2, B, K), NEG_INF, device=device).unbind(0)
        self.end, self.ptr = torch.zeros(2, B, K, dtype=torch.long, device=device).unbind(0)
        self.tok, self.fin = torch.full((B, K), pad, device=device), torch.zeros(B, K, dtype=torch.bool, device=device)
        self.attn, self.S, self.history = None, S, []  # history, per step: alive [A], token, parent, attn [A, K(, S)]

    def merge(self, alive: Tensor, score, logp, end, ptr, tok, fin, attn) -> Tensor:
        """Keep the K best of pool + new (``[A, K]`` each); returns the kept indices (``>= K``: a new one)."""
        K = self.score.size(1)
        cat = lambda full, new: torch.cat([full[alive], new], dim=1)  # noqa: E731
        best = cat(self.score, score).topk(K, dim=1).indices  # [A, K], sorted
        for name, new in (("score", score), ("logp", logp), ("end", end), ("ptr", ptr), ("tok", tok), ("fin", fin)):
            getattr(self, name)[alive] = cat(getattr(self, name), new).gather(1, best)
        if attn is not None:
            if self.attn is None:
                self.attn = torch.zeros(self.score.size(0), K, self.S, device=attn.device)
            self.attn[alive] = cat(self.attn, attn).gather(1, best.unsqueeze(-1).expand(-1, -1, self.S))
        return best


def _finish(pool: _Pool, alive: Tensor, cand: _Candidates, score: Tensor, attn: Optional[Tensor], t: int):
    """4. Finish: the candidates ending in ``<eos>`` among the ``K`` best enter the pool: ``(new [A, K], pool's choice)``."""
    K = pool.score.size(1)
    new = cand.is_eos[:, :K] & cand.valid[:, :K]
    if not bool(new.any()):
        return new, None
    parent = cand.parent[:, :K]
    fin_attn = None if attn is None else attn.gather(1, parent.unsqueeze(-1).expand(-1, -1, attn.size(-1)))
    return new, pool.merge(alive, score[:, :K].masked_fill(~new, NEG_INF), cand.logp[:, :K], torch.full_like(parent, t),
                           parent, cand.token[:, :K], torch.ones_like(new), fin_attn)


def _beam(model: Seq2Seq, src: Tensor, src_lens: Tensor, K: int, max_len: Optional[int], alpha: float,
          beta: float, n_best: int, record_steps: bool) -> BeamSearchOutput:
    """The search of :func:`beam_search` (arguments checked; ``encode`` checks the batch). Row ``a*K + k``
    is beam ``k`` of alive sentence ``a``; ``max_len`` None: :func:`default_max_len`."""
    if record_steps:
        from .beam_record import record_step  # the beam explorer's record (it builds on this module)
    with eval_mode(model):
        enc = model.encode(src, src_lens)  # the one check of the batch, before anything reads src
        (B, S), device = src.shape, src.device
        max_len = _default_max_len(src_lens) if max_len is None else max_len
        lp_max, src_pad_mask, pool = _lp(max_len, alpha), enc["src_pad_mask"], _Pool(B, K, S, model.pad_id, device)
        steps: Optional[List[List[BeamStep]]] = [[] for _ in range(B)] if record_steps else None
        state, prev = model.init_state(enc), torch.full((B,), model.sos_id, device=device)  # step 0: a row per sentence
        beam = _Beam(torch.arange(B, device=device), torch.zeros(B, 1, device=device), src_pad_mask)
        for t in range(max_len):
            out = model.decode_step(prev, state, enc)
            A, Kc = beam.logp.shape
            attn = None if out.attn_weights is None else out.attn_weights.float().view(A, Kc, S)
            cover = attn if attn is None or beam.coverage is None else beam.coverage + attn
            cand = _expand(out.logits.float(), beam.logp, K, model.eos_id)
            lp = _lp(t + 1, alpha)
            score, cp = _score(cand, cover, beam.mask, lp, beta)
            fin_new, fin_best = _finish(pool, beam.alive, cand, score, attn, t)
            order, ok = _select(cand, K)
            parent, token = cand.parent.gather(1, order), cand.token.gather(1, order)
            rows = parent.unsqueeze(-1).expand(-1, -1, S)
            new_attn = None if attn is None else attn.gather(1, rows)
            pool.history.append((beam.alive, token, parent, new_attn))
            logp = cand.logp.gather(1, order).masked_fill(~ok, NEG_INF)
            stop_best = None
            if t == max_len - 1:  # out of length: the open hypotheses join the pool unfinished, with their score
                stop_best = pool.merge(beam.alive, score.gather(1, order).masked_fill(~ok, NEG_INF), logp,
                                       torch.full_like(parent, t), parent, token, torch.zeros_like(ok), new_attn)
            if record_steps:
                record_step(steps, t, beam, cand, score, cp, lp, order, ok, fin_new, fin_best, stop_best)
            if stop_best is not None:
                break
            beam = _Beam(beam.alive, logp, beam.mask, None if cover is None else cover.gather(1, rows))
            # done: the pool is full and no open hypothesis can beat its worst (at best log P_now / lp(max_len):
            # log P falls, lp grows, cp <= 0)
            best_open = logp.max(dim=1).values  # [A]
            keep = ~((best_open / lp_max <= pool.score[beam.alive][:, K - 1]) | (best_open == NEG_INF))
            n_keep = int(keep.sum())
            if n_keep == 0:
                break
            first_row = torch.arange(A, device=device).unsqueeze(1) * Kc  # [A, 1] row of beam 0
            flat = parent + first_row  # [A, K] row of each new beam's parent in this step's batch
            if n_keep < A:
                flat, first_row, token = flat[keep], first_row[keep], token[keep]
                beam = _Beam(*(x if x is None else x[keep] for x in (beam.alive, beam.logp, beam.mask, beam.coverage)))
            if n_keep < A or Kc != K:  # drop finished sentences / repeat to K beams after step 0
                enc = select_batch(enc, first_row.expand(-1, K).reshape(-1))
            state = select_batch(out.state, flat.reshape(-1))
            prev = token.reshape(-1)
    return BeamSearchOutput(_backtrack(pool, src_lens, n_best), steps)


def _backtrack(pool: _Pool, src_lens: Tensor, n_best: int) -> List[List[Hypothesis]]:
    """Tokens and attention rows of the ``n_best`` first pooled hypotheses, rebuilt from the back-pointers."""
    n = min(n_best, pool.score.size(1))
    end, ptr = pool.end[:, :n], pool.ptr[:, :n].clone()
    B, T = end.size(0), len(pool.history)
    tokens = torch.full((B, n, T), -1, dtype=torch.long, device=end.device)
    tokens.scatter_(2, end.unsqueeze(-1), pool.tok[:, :n].unsqueeze(-1))
    attn = None
    if pool.attn is not None and all(h[3] is not None for h in pool.history):
        attn = pool.attn.new_zeros(B, n, T, pool.S)
        attn.scatter_(2, end[..., None, None].expand(B, n, 1, pool.S), pool.attn[:, :n].unsqueeze(2))
    for s in range(T - 2, -1, -1):
        alive, tok_s, par_s, attn_s = pool.history[s]
        row = torch.zeros(B, dtype=torch.long, device=end.device)  # sentence -> its row at step s
        row[alive] = torch.arange(alive.numel(), device=end.device)
        on_path = s < end  # [B, n]: step s lies on this hypothesis' path (so the sentence was alive)
        tokens[:, :, s] = torch.where(on_path, tok_s[row].gather(1, ptr), tokens[:, :, s])
        if attn is not None:
            rows = attn_s[row].gather(1, ptr.unsqueeze(-1).expand(-1, -1, pool.S))
            attn[:, :, s] = torch.where(on_path.unsqueeze(-1), rows, attn[:, :, s])
        ptr = torch.where(on_path, par_s[row].gather(1, ptr), ptr)
    scores, logps, ends, fins = (x[:, :n].tolist() for x in (pool.score, pool.logp, pool.end, pool.fin))
    tokens, lens = tokens.tolist(), src_lens.tolist()
    result: List[List[Hypothesis]] = []
    for b in range(B):
        hyps = []
        for k in (k for k in range(n) if scores[b][k] > NEG_INF):  # the pool is sorted: empty slots last
            ids, rows = tokens[b][k][: ends[b][k] + 1], None if attn is None else attn[b, k, :ends[b][k] + 1, :lens[b]]
            hyps.append(Hypothesis(ids[:-1] if fins[b][k] else ids, scores[b][k], logps[b][k],
                                   None if rows is None else rows.cpu(), fins[b][k]))
        result.append(hyps)
    return result
