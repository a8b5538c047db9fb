"""Search: batched greedy decoding, batched beam search, and a step-by-step trace.

Everything here uses only :meth:`Seq2Seq.encode`, :meth:`Seq2Seq.init_state`,
:meth:`Seq2Seq.decode_step` and :func:`course_lib.models.select_batch`, so it works for
every model of the course, and returns the attention weights of every step.

- :func:`greedy_decode`: the one greedy loop (batched); with ``record_topk`` it also keeps
  the ``k`` most probable next words of every step, which is what :func:`decode_trace`
  (the decoder stepper's data) reads.
- :func:`beam_search`: batched beam search with GNMT's length normalisation and coverage
  penalty (Wu et al. 2016, sec. 7), sentences x beams in one tensor.
- :func:`translate` / :func:`translate_dataset`: raw sentences or a dataset in, a
  :class:`Translation` per sentence out (greedy at ``beam_size=1``, else beam search).

Row convention of every attention matrix returned here (``Translation.attn_weights``,
``Hypothesis.attn_weights``): one row per generated token, in order, **plus a last row for
the step that produced** ``<eos>`` when the sentence finished (so ``len(tokens) + 1`` rows;
``len(tokens)`` rows when ``max_len`` stopped it first). ``Translation.row_labels`` gives the
matching labels. Columns are the real source positions (``<eos>`` included, padding cut).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

import torch
from torch import Tensor

from .data import EOS
from .checks import check_int, check_tokens
from .checks import check_flag
from .models.base import Seq2Seq, select_batch
from .utils import eval_mode, lengths_to_pad_mask

__all__ = ["GreedyOutput", "greedy_decode", "Translation", "translate", "translate_dataset",
           "StepTrace", "decode_trace", "default_max_len",
           "Hypothesis", "BeamStep", "BeamSearchOutput", "beam_search", "length_penalty", "coverage_penalty"]


# ---------------------------------------------------------------------------------------
# argument checks shared by every search
# ---------------------------------------------------------------------------------------

def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_int(name: str, value, low: int) -> int:
    if not _is_int(value):
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r} ({type(value).__name__})")
    if value < low:
        raise ValueError(f"{name} must be at least {low}, got {value}")
    return int(value)


def _check_model(model) -> None:
    """Refuse anything that is not a :class:`~course_lib.models.Seq2Seq` before any work is done."""
    if not isinstance(model, Seq2Seq):
        raise TypeError(f"model must be a course_lib.models.Seq2Seq (e.g. a BahdanauSeq2Seq), got "
                        f"{type(model).__name__}; load a trained model first")


def _check_same_device(model, src: Tensor) -> None:
    """Refuse a batch on another device than the model's weights (a model without any is not checked)."""
    for tensor in model.parameters():
        device = tensor.device
        break
    else:
        return
    if device != src.device:
        raise ValueError(f"src is on {src.device} but the model on {device}; move the batch with "
                         f"src.to(device), src_lens.to(device) (or the model with model.to(device))")


def _check_src(src: Tensor, src_lens: Tensor) -> Tensor:
    """Validate a padded source batch; return ``src_pad_mask [B, S]`` (True at padding)."""
    if not isinstance(src, Tensor) or src.dim() != 2:
        raise ValueError(f"src must be a 2-D tensor [B, S] of token ids, got {type(src).__name__} "
                         f"of shape {tuple(getattr(src, 'shape', ()))}")
    if src.dtype.is_floating_point or src.dtype == torch.bool or src.is_complex():
        raise ValueError(f"src must hold integer token ids, got dtype {src.dtype}")
    if src.size(0) == 0 or src.size(1) == 0:
        raise ValueError(f"src is empty (shape {tuple(src.shape)}): a batch needs at least one sentence and one token")
    if not isinstance(src_lens, Tensor) or src_lens.dim() != 1 or src_lens.size(0) != src.size(0):
        raise ValueError(f"src_lens must be a 1-D tensor with one length per sentence ([{src.size(0)}]), got shape "
                         f"{tuple(getattr(src_lens, 'shape', ()))}")
    return lengths_to_pad_mask(src_lens.to(src.device), src.size(1))  # checks dtype, 1 <= length <= S


def _check_max_len(max_len, src_lens: Tensor) -> int:
    if max_len is None:
        return default_max_len(src_lens)
    return _check_int("max_len", max_len, 1)


def _check_beam_args(beam_size, alpha, beta, n_best) -> tuple[int, float, float, int]:
    beam_size = _check_int("beam_size", beam_size, 1)
    n_best = _check_int("n_best", n_best, 1)
    if n_best > beam_size:
        raise ValueError(f"n_best ({n_best}) cannot exceed beam_size ({beam_size}): the search keeps only "
                         "beam_size finished hypotheses per sentence")
    return beam_size, _check_strength("alpha", alpha), _check_strength("beta", beta), n_best


def _model_device(model: torch.nn.Module) -> torch.device:
    """The device of the model's first parameter (or buffer); CPU for a model with neither."""
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


def default_max_len(src_lens: Tensor) -> int:
    """Longest output a search allows by default: ``2 * max(src_lens) + 10`` tokens (``<eos>`` included).

    Raises:
        ValueError: ``src_lens`` is not a non-empty 1-D integer tensor, or holds a length below 1.
    """
    if (not isinstance(src_lens, Tensor) or src_lens.dim() != 1 or src_lens.numel() == 0
            or src_lens.dtype.is_floating_point or src_lens.dtype == torch.bool or src_lens.is_complex()):
        raise ValueError(f"src_lens must be a non-empty 1-D integer tensor [B], got {src_lens!r}")
    if int(src_lens.min()) < 1:
        raise ValueError(f"src_lens must hold lengths >= 1 (tokens, <eos> included), got {src_lens.tolist()}")
    return int(src_lens.max()) * 2 + 10


# ---------------------------------------------------------------------------------------
# greedy search: the one greedy loop
# ---------------------------------------------------------------------------------------

@dataclass
class GreedyOutput:
    """Result of :func:`greedy_decode` for a batch.

    Attributes:
        tokens: ``[B, T_out]`` generated ids without ``<sos>``; each row ends with ``<eos>``
            (unless ``max_len`` was reached) followed by ``<pad>``.
        lengths: ``[B]`` number of generated tokens per row, ``<eos>`` included.
        attn_weights: ``[B, T_out, S]`` attention of every step (zero after a row finished),
            or ``None`` for models without attention.
        finished: ``[B]`` bool, True where ``<eos>`` was produced.
        log_probs: ``[B]`` float, ``log P(Y | X)`` in nats: the sum of the log-probabilities
            of the generated tokens, ``<eos>`` included.
        topk_ids, topk_probs: ``[B, T_out, k]`` the ``k`` most probable next words of every
            step and their probabilities (only with ``record_topk=k``; else ``None``).
    """

    tokens: Tensor
    lengths: Tensor
    attn_weights: Optional[Tensor]
    finished: Tensor
    log_probs: Optional[Tensor] = None
    topk_ids: Optional[Tensor] = None
    topk_probs: Optional[Tensor] = None

    def hypotheses(self, eos_id: int) -> List[List[int]]:
        """Generated ids per sentence, ``<eos>`` and padding removed.

        Raises:
            ValueError: ``eos_id`` is not an integer >= 0 (e.g. ``tgt_vocab.eos_id``).
        """
        eos_id = _check_int("eos_id", eos_id, 0)
        out = []
        for row, n in zip(self.tokens.tolist(), self.lengths.tolist()):
            row = row[:n]
            if row and row[-1] == eos_id:
                row = row[:-1]
            out.append(row)
        return out


@torch.no_grad()
def greedy_decode(model: Seq2Seq, src: Tensor, src_lens: Tensor, max_len: Optional[int] = None,
                  record_topk: int = 0) -> GreedyOutput:
    """Batched greedy search: at each step take ``argmax_y log p(y | y_<t, x)``.

    Every sentence stops at its own ``<eos>``; the loop ends when all have stopped or after
    ``max_len`` steps. Finished rows are fed ``<pad>`` and their outputs are discarded, so a
    sentence's result does not depend on the other sentences in the batch. Greedy search is
    beam search with a beam of one (Sutskever et al. 2014, sec. 3.2): :func:`beam_search`
    with ``beam_size=1`` returns the same tokens.

    Args:
        model: any :class:`~course_lib.models.Seq2Seq` (put in eval mode for the call, its
            mode restored afterwards).
        src: ``[B, S]`` integer source ids, padded; src_lens: ``[B]`` true lengths (``<eos>``
            included).
        max_len: most tokens to generate per sentence, ``<eos>`` included (default
            :func:`default_max_len`).
        record_topk: also keep the ``k`` most probable next words of every step and their
            probabilities (``GreedyOutput.topk_ids`` / ``topk_probs``, for the decoder
            stepper); 0 (default) records nothing. Capped at ``V``.

    Returns:
        :class:`GreedyOutput`.

    Raises:
        ValueError: ``src`` not a 2-D integer tensor; ``src_lens`` not one integer length per
            sentence, a length below 1 or above ``S``; ``max_len`` below 1 or not an
            integer; ``record_topk`` negative or not an integer; ``src`` on another device
            than the model's parameters.
        TypeError: ``model`` is not a :class:`~course_lib.models.Seq2Seq`.
    """
    _check_model(model)
    _check_src(src, src_lens)
    _check_same_device(model, src)
    max_len = _check_max_len(max_len, src_lens)
    record_topk = _check_int("record_topk", record_topk, 0)
    return _greedy(model, src, src_lens, max_len, record_topk)


def _greedy(model: Seq2Seq, src: Tensor, src_lens: Tensor, max_len: int, record_topk: int,
            forced: Optional[Tensor] = None) -> GreedyOutput:
    """The greedy loop of :func:`greedy_decode` (arguments checked); ``forced [B, P]`` fixes steps ``0..P-1``."""
    batch_size = src.size(0)
    device = src.device
    n_forced = 0 if forced is None else forced.size(1)
    with eval_mode(model):
        enc = model.encode(src, src_lens)
        state = model.init_state(enc)
        prev = torch.full((batch_size,), model.sos_id, dtype=torch.long, device=device)
        finished = torch.zeros(batch_size, dtype=torch.bool, device=device)
        lengths = torch.zeros(batch_size, dtype=torch.long, device=device)
        log_probs = torch.zeros(batch_size, dtype=torch.float, device=device)
        tokens, weights, top_ids, top_probs = [], [], [], []
        for t in range(max_len):
            out = model.decode_step(prev, state, enc)
            state = out.state
            logits = out.logits.float()  # [B, V]
            lse = torch.logsumexp(logits, dim=-1)  # log p(y) = logit(y) - lse
            if t < n_forced:  # forced decoding: the given token, scored by the model
                next_tokens = forced[:, t]
                best_logp = logits.gather(1, next_tokens.unsqueeze(1)).squeeze(1) - lse
            else:
                best_logit, next_tokens = logits.max(-1)  # [B]
                best_logp = best_logit - lse
            if record_topk:
                top = logits.topk(min(record_topk, logits.size(-1)), dim=-1)
                top_ids.append(top.indices)
                top_probs.append((top.values - lse.unsqueeze(-1)).exp())
            next_tokens = next_tokens.masked_fill(finished, model.pad_id)
            log_probs += best_logp.masked_fill(finished, 0.0)
            tokens.append(next_tokens)
            if out.attn_weights is not None:
                weights.append(out.attn_weights.masked_fill(finished.unsqueeze(1), 0.0))
            lengths += (~finished).long()
            finished = finished | (next_tokens == model.eos_id)
            prev = next_tokens
            if bool(finished.all()):
                break
    attn = torch.stack(weights, dim=1) if weights else None  # [B, T_out, S]
    return GreedyOutput(torch.stack(tokens, dim=1), lengths, attn, finished, log_probs,
                        torch.stack(top_ids, dim=1) if record_topk else None,
                        torch.stack(top_probs, dim=1) if record_topk else None)


# ---------------------------------------------------------------------------------------
# beam search (Wu et al. 2016, sec. 7)
# ---------------------------------------------------------------------------------------

def _check_strength(name: str, value) -> float:
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0 (0 switches its penalty off), got {value!r}")
    return float(value)


def _lp(length, alpha: float):
    if isinstance(length, Tensor):
        return ((5.0 + length.float()) / 6.0) ** alpha
    return ((5.0 + float(length)) / 6.0) ** alpha


def length_penalty(length, alpha: float):
    """GNMT's length normalisation ``lp(Y) = ((5 + |Y|) / 6) ** alpha`` (Wu et al. 2016, eq. 14).

    Args:
        length: ``|Y|``, the number of generated tokens **including** ``<eos>`` (as GNMT's
            reference implementation counts it); a non-negative int or an integer tensor.
        alpha: ``>= 0``; 0 gives 1 (no normalisation).

    Returns:
        A float (or a float tensor of ``length``'s shape); the score divides ``log P(Y|X)`` by it.

    Raises:
        ValueError: ``alpha`` negative, NaN or infinite; ``length`` negative or not an integer.
    """
    alpha = _check_strength("alpha", alpha)
    if isinstance(length, Tensor):
        if length.dtype.is_floating_point or length.dtype == torch.bool or length.is_complex():
            raise ValueError(f"length must hold integers, got dtype {length.dtype}")
        if length.numel() and int(length.min()) < 0:
            raise ValueError("length must be >= 0")
    elif not _is_int(length) or length < 0:
        raise ValueError(f"length must be an integer >= 0 (tokens, <eos> included), got {length!r}")
    return _lp(length, alpha)


_COVERAGE_FLOOR = 1e-10


def _cp(coverage: Tensor, src_pad_mask: Tensor, beta: float) -> Tensor:
    logs = coverage.float().clamp(min=_COVERAGE_FLOOR, max=1.0).log().masked_fill(src_pad_mask, 0.0)
    return beta * logs.sum(-1)


def coverage_penalty(coverage: Tensor, src_pad_mask: Tensor, beta: float) -> Tensor:
    """GNMT's coverage penalty ``cp(X; Y) = beta * sum_j log(min(sum_i p_ij, 1))`` (Wu et al. 2016, eq. 14).

    ``p_ij`` is the attention weight of target step ``i`` on source position ``j``; the sum
    runs over the real source positions only (padding excluded). It is 0 when every source
    position received at least 1.0 attention in total, and negative otherwise. A position
    that received (numerically) no attention at all is floored at ``1e-10`` so the penalty
    stays finite (``log 1e-10 = -23``).

    Args:
        coverage: ``[..., S]`` float, attention summed over the target steps so far (``>= 0``).
        src_pad_mask: ``[..., S]`` bool (broadcastable to ``coverage``), True at padding.
        beta: ``>= 0``; 0 gives 0.

    Returns:
        Float tensor ``[...]`` (``<= 0``).

    Raises:
        ValueError: ``beta`` negative, NaN or infinite; ``coverage`` not a float tensor or
            holding negative or NaN values; ``src_pad_mask`` not a bool tensor or not
            broadcastable to ``coverage``'s shape (a mask that would widen the result is refused).
    """
    beta = _check_strength("beta", beta)
    if not isinstance(coverage, Tensor) or not coverage.dtype.is_floating_point or coverage.dim() == 0:
        raise ValueError("coverage must be a float tensor [..., S] of summed attention weights")
    if not isinstance(src_pad_mask, Tensor) or src_pad_mask.dtype != torch.bool:
        raise ValueError("src_pad_mask must be a bool tensor [..., S], True at padding")
    try:
        shape = torch.broadcast_shapes(coverage.shape, src_pad_mask.shape)
    except RuntimeError as err:
        raise ValueError(f"src_pad_mask {tuple(src_pad_mask.shape)} does not broadcast to coverage "
                         f"{tuple(coverage.shape)}") from err
    if shape != coverage.shape:
        raise ValueError(f"src_pad_mask {tuple(src_pad_mask.shape)} has more rows than coverage "
                         f"{tuple(coverage.shape)}: it must broadcast to coverage's shape, not widen it "
                         "(give one coverage row per mask row)")
    if coverage.numel() and not bool((coverage >= 0).all()):
        raise ValueError("coverage must be non-negative and not NaN (it is a sum of attention weights)")
    return _cp(coverage, src_pad_mask, beta)


@dataclass
class Hypothesis:
    """One hypothesis of :func:`beam_search`.

    Attributes:
        tokens: generated target ids, ``<sos>`` and the final ``<eos>`` excluded (special
            tokens the model emitted mid-sequence, such as ``<unk>``, are kept).
        score: ``s(Y, X) = log P(Y|X) / lp(Y) + cp(X; Y)`` (Wu et al. 2016, eq. 14) of a
            finished hypothesis; for an open one in :attr:`BeamSearchOutput.steps`, its
            ranking score ``log P / lp`` (the coverage penalty is added when it finishes).
        log_prob: ``log P(Y|X)`` in nats, the sum over the generated tokens, ``<eos>`` included.
        attn_weights: ``[len(tokens) + 1, S_i]`` (the last row is the step that produced
            ``<eos>``), ``[len(tokens), S_i]`` when not finished; ``None`` for models without
            attention and in :attr:`BeamSearchOutput.steps`. ``S_i`` is the sentence's real
            source length.
        finished: True when the hypothesis ended with ``<eos>``; False when ``max_len``
            stopped it.

    Raises:
        TypeError: ``tokens`` is a str or not a list of integer ids; ``finished`` not a bool.
    """

    tokens: List[int]
    score: float
    log_prob: float
    attn_weights: Optional[Tensor]
    finished: bool

    def __post_init__(self) -> None:
        if isinstance(self.tokens, (str, bytes)) or not isinstance(self.tokens, (list, tuple)):
            raise TypeError(f"Hypothesis.tokens must be a list of target ids, got {type(self.tokens).__name__} "
                            f"({self.tokens!r:.40}); encode tokens with Vocab.encode first")
        if not all(_is_int(t) for t in self.tokens):
            raise TypeError(f"Hypothesis.tokens must hold integer ids, got {list(self.tokens)!r:.60}")
        if not isinstance(self.finished, bool):
            raise TypeError(f"Hypothesis.finished must be True or False, got {self.finished!r}")

    @property
    def length(self) -> int:
        """``|Y|`` of the length penalty: ``len(tokens)``, plus one for ``<eos>`` when finished."""
        return len(self.tokens) + int(self.finished)


@dataclass
class BeamStep:
    """What one step of :func:`beam_search` did for one sentence (``record_steps=True``).

    Attributes:
        step: 0-based target position.
        kept: the open hypotheses kept in the beam after this step, best first (their
            ``score`` is ``log P / lp``, no coverage penalty yet; no attention).
        parents: for each of ``kept``, the index in the previous step's ``kept`` it extends
            (all 0 at step 0).
        finished: hypotheses that produced ``<eos>`` at this step and entered the finished
            pool (full score), best first; at the last step (``max_len``) also the open
            hypotheses stopped there (``finished=False``).
    """

    step: int
    kept: List[Hypothesis]
    parents: List[int]
    finished: List[Hypothesis]


@dataclass
class BeamSearchOutput:
    """Result of :func:`beam_search`.

    Attributes:
        hypotheses: per sentence, up to ``n_best`` :class:`Hypothesis`, best (highest
            ``score``) first, all distinct.
        steps: per sentence, one :class:`BeamStep` per step the sentence was searched (only
            with ``record_steps=True``; else ``None``).
    """

    hypotheses: List[List[Hypothesis]]
    steps: Optional[List[List[BeamStep]]] = None

    def best(self) -> List[Hypothesis]:
        """The best hypothesis of every sentence.

        Raises:
            ValueError: a sentence has no hypothesis (an output built by hand).
        """
        empty = [i for i, h in enumerate(self.hypotheses) if len(h) == 0]
        if empty:
            raise ValueError(f"sentence {empty[0]} has no hypothesis, so there is no best one; "
                             "every sentence of a beam_search output holds at least one")
        return [h[0] for h in self.hypotheses]


@torch.no_grad()
def beam_search(model: Seq2Seq, src: Tensor, src_lens: Tensor, beam_size: int = 5, max_len: Optional[int] = None,
                alpha: float = 0.0, beta: float = 0.0, n_best: int = 1, record_steps: bool = False) -> BeamSearchOutput:
    """Batched beam search with GNMT's scoring (Wu et al. 2016, sec. 7, eq. 14).

    Finds, per sentence, the target ``Y`` that maximises::

        s(Y, X) = log P(Y|X) / lp(Y) + cp(X; Y)
        lp(Y)   = ((5 + |Y|) / 6) ** alpha                      (length normalisation)
        cp(X;Y) = beta * sum_j log(min(sum_i p_ij, 1.0))        (coverage penalty)

    ``|Y|`` counts the generated tokens **including** ``<eos>`` (as GNMT's reference
    implementation does); ``j`` runs over the real source positions (padding excluded);
    ``p_ij`` is the attention weight of step ``i`` (the ``<eos>`` step included) on
    position ``j``. ``alpha = beta = 0`` gives the plain log-probability sum.

    The search: all sentences x ``beam_size`` beams run as one batch of ``B * K`` rows
    through ``model.decode_step`` (``B`` rows at step 0, where every beam holds the same
    empty prefix). At each step every open hypothesis is extended by every word; of the
    ``2K`` best extensions by ``log P`` (all open hypotheses have the same
    length, so this is also their ``log P / lp`` order), those ending in ``<eos>`` among
    the first ``K`` enter the sentence's pool of finished hypotheses (scored with
    ``s(Y, X)``; the pool keeps the ``K`` best), and the ``K`` best others stay open. A
    sentence is done, and leaves the batch (its rows are dropped with
    :func:`~course_lib.models.select_batch`), when its pool holds ``K`` finished hypotheses
    and no open one can still beat the worst of them: since ``log P`` only falls as a
    hypothesis grows, ``lp`` grows with length and ``cp <= 0``, an open hypothesis can at
    best reach ``log P_now / lp(max_len)``. After ``max_len`` steps the open hypotheses join
    the pool unfinished (``finished=False``, ``|Y| = max_len``) and compete on the same
    score. With ``beam_size=1`` and ``alpha = beta = 0`` this is exactly greedy search
    (:func:`greedy_decode`).

    Args:
        model: any :class:`~course_lib.models.Seq2Seq` (eval mode during the call).
        src: ``[B, S]`` integer source ids, padded; src_lens: ``[B]`` true lengths.
        beam_size: ``K >= 1``, hypotheses kept per sentence.
        max_len: most tokens per hypothesis, ``<eos>`` included (default :func:`default_max_len`).
        alpha: length-normalisation strength ``>= 0`` (Wu et al. explore 0 ... 1; 0 = off).
        beta: coverage-penalty strength ``>= 0`` (Wu et al. explore 0 ... 1; 0 = off); needs a
            model with attention.
        n_best: hypotheses returned per sentence, ``1 <= n_best <= beam_size``.
        record_steps: also return, per sentence and step, the hypotheses kept
            (:class:`BeamStep`), for the beam explorer. Costs a Python loop over the
            sentences per step: meant for a few sentences.

    Returns:
        :class:`BeamSearchOutput`: ``hypotheses[b]`` holds up to ``n_best`` hypotheses of
        sentence ``b`` (fewer only if fewer distinct sequences exist within ``max_len``),
        best first, with score, log-probability, token ids and attention ``[rows, S_b]``.

    Raises:
        ValueError: ``src`` / ``src_lens`` malformed (see :func:`greedy_decode`);
            ``beam_size``, ``n_best`` or ``max_len`` below 1 or not integers; ``n_best >
            beam_size``; ``alpha`` or ``beta`` negative, NaN or infinite; ``beta > 0`` for
            a model without attention (the coverage penalty needs attention weights);
            ``src`` on another device than the model's parameters.
        TypeError: ``model`` is not a :class:`~course_lib.models.Seq2Seq`; ``record_steps``
            is not a bool.
    """
    _check_model(model)
    src_pad_mask = _check_src(src, src_lens)
    _check_same_device(model, src)
    K, alpha, beta, n_best = _check_beam_args(beam_size, alpha, beta, n_best)
    record_steps = check_flag(record_steps, "record_steps")
    max_len = _check_max_len(max_len, src_lens)
    if beta > 0 and not getattr(model, "has_attention", False):
        raise ValueError(f"{type(model).__name__} has no attention, so the coverage penalty is undefined; "
                         "use beta=0 with this model")
    device = src.device
    B, S = src.shape
    V = model.tgt_vocab_size
    eos, pad = model.eos_id, model.pad_id
    neg_inf = float("-inf")
    lp_max = _lp(max_len, alpha)
    n_row = min(2 * K, V)  # candidates kept per beam before the sentence-wide choice
    with eval_mode(model):
        # step 0 runs on one row per sentence (every beam holds the same empty prefix); the
        # rows are repeated to K beams per sentence after it: row a*K + k is beam k of sentence a
        enc = model.encode(src, src_lens)
        state = model.init_state(enc)
        prev = torch.full((B,), model.sos_id, dtype=torch.long, device=device)

        # open beams of the sentences still searched (the "alive" ones), [A, Kc] (Kc = 1 at step 0, then K)
        alive = torch.arange(B, device=device)
        beam_logp = torch.zeros(B, 1, device=device)
        mask_a = src_pad_mask  # [A, S]
        coverage: Optional[Tensor] = None  # [A, Kc, S], attention summed over the steps so far
        prefix = torch.zeros(B, 1, 0, dtype=torch.long, device=device) if record_steps else None

        # history of every step for all B sentences (rows of finished sentences left as is):
        # the token each beam took, the beam of the previous step it extends, its attention
        tok_hist: List[Tensor] = []
        par_hist: List[Tensor] = []
        attn_hist: List[Optional[Tensor]] = []

        # pool of finished hypotheses per sentence, best first (score -inf = empty slot)
        pool_score = torch.full((B, K), neg_inf, device=device)
        pool_logp = torch.full((B, K), neg_inf, device=device)
        pool_end = torch.zeros(B, K, dtype=torch.long, device=device)  # step of the last token
        pool_ptr = torch.zeros(B, K, dtype=torch.long, device=device)  # beam of step end-1 it extends
        pool_tok = torch.full((B, K), pad, dtype=torch.long, device=device)  # last token
        pool_fin = torch.zeros(B, K, dtype=torch.bool, device=device)
        pool_attn: Optional[Tensor] = None  # [B, K, S] attention of the last step
        steps: Optional[List[List[BeamStep]]] = [[] for _ in range(B)] if record_steps else None

        def merge_into_pool(score, logp, end, ptr, tok, fin, attn):
            """Keep the K best of pool + candidates ([A, K] each) for the alive sentences."""
            nonlocal pool_attn
            cat = lambda full, new: torch.cat([full[alive], new], dim=1)  # noqa: E731
            best = cat(pool_score, score).topk(K, dim=1).indices  # [A, K], sorted
            pool_score[alive] = cat(pool_score, score).gather(1, best)
            pool_logp[alive] = cat(pool_logp, logp).gather(1, best)
            pool_end[alive] = cat(pool_end, end).gather(1, best)
            pool_ptr[alive] = cat(pool_ptr, ptr).gather(1, best)
            pool_tok[alive] = cat(pool_tok, tok).gather(1, best)
            pool_fin[alive] = cat(pool_fin, fin).gather(1, best)
            if attn is not None:
                if pool_attn is None:
                    pool_attn = torch.zeros(B, K, S, device=device)
                pool_attn[alive] = cat(pool_attn, attn).gather(1, best.unsqueeze(-1).expand(-1, -1, S))

        for t in range(max_len):
            A, Kc = beam_logp.shape
            out = model.decode_step(prev, state, enc)
            logits = out.logits.float()  # [A*Kc, V]
            step_attn = None
            if out.attn_weights is not None:
                step_attn = out.attn_weights.float().view(A, Kc, S)
            elif beta > 0:
                raise ValueError(f"{type(model).__name__}.decode_step returned no attention weights, so the "
                                 "coverage penalty is undefined; use beta=0 with this model")
            cover_now = None  # coverage of every beam including this step's attention
            if step_attn is not None:
                cover_now = step_attn if coverage is None else coverage + step_attn

            # log p of the n_row best words of every beam (the 2K best of a sentence are among
            # them), then the 2K best extensions of every sentence by log P
            row_top, row_tok = logits.topk(n_row, dim=-1)  # [A*Kc, n_row]
            row_logp = row_top - torch.logsumexp(logits, dim=-1, keepdim=True)
            cand = (beam_logp.unsqueeze(-1) + row_logp.view(A, Kc, n_row)).view(A, Kc * n_row)
            if cand.size(1) < 2 * K:  # fewer candidates than 2K (step 0 with a tiny vocabulary)
                cand = torch.cat([cand, cand.new_full((A, 2 * K - cand.size(1)), neg_inf)], dim=1)
            top_logp, top_idx = cand.topk(2 * K, dim=1)  # [A, 2K], best first
            top_idx = top_idx.clamp(max=Kc * n_row - 1)  # padded slots are -inf (invalid) anyway
            parent = top_idx // n_row
            token = row_tok.view(A, Kc * n_row).gather(1, top_idx)
            valid = top_logp > neg_inf
            is_eos = token == eos
            n_cand = 2 * K

            # 1. hypotheses ending with <eos> among the K best candidates: into the pool
            lp_now = _lp(t + 1, alpha)
            fin_new = is_eos[:, :K] & valid[:, :K]
            fin_parent = parent[:, :K]
            fin_score = top_logp[:, :K] / lp_now
            fin_attn = None
            if cover_now is not None:
                fin_attn = step_attn.gather(1, fin_parent.unsqueeze(-1).expand(-1, -1, S))
                if beta > 0:
                    cp = _cp(cover_now, mask_a.unsqueeze(1), beta)  # [A, K]
                    fin_score = fin_score + cp.gather(1, fin_parent)
            fin_score = fin_score.masked_fill(~fin_new, neg_inf)
            if bool(fin_new.any()):
                merge_into_pool(fin_score, top_logp[:, :K], torch.full_like(fin_parent, t), fin_parent,
                                token[:, :K], torch.ones_like(fin_new), fin_attn)

            # 2. the K best other extensions stay open
            rank = torch.arange(n_cand, device=device).expand(A, n_cand)
            keep_key = torch.where(valid & ~is_eos, rank, rank + n_cand)
            order = keep_key.argsort(dim=1)[:, :K]  # [A, K]
            new_parent = parent.gather(1, order)
            new_tok = token.gather(1, order)
            new_ok = (valid & ~is_eos).gather(1, order)
            beam_logp = top_logp.gather(1, order).masked_fill(~new_ok, neg_inf)
            if cover_now is not None:
                coverage = cover_now.gather(1, new_parent.unsqueeze(-1).expand(-1, -1, S))
            new_attn = step_attn.gather(1, new_parent.unsqueeze(-1).expand(-1, -1, S)) if step_attn is not None else None

            full_tok = torch.full((B, K), pad, dtype=torch.long, device=device)
            full_tok[alive] = new_tok
            full_par = torch.zeros(B, K, dtype=torch.long, device=device)
            full_par[alive] = new_parent
            tok_hist.append(full_tok)
            par_hist.append(full_par)
            if new_attn is not None:
                full_attn = torch.zeros(B, K, S, device=device)
                full_attn[alive] = new_attn
                attn_hist.append(full_attn)
            else:
                attn_hist.append(None)

            last_step = t == max_len - 1
            if last_step:  # 3. out of length: the open hypotheses join the pool, unfinished
                open_score = beam_logp / lp_max
                if beta > 0:
                    open_score = open_score + _cp(coverage, mask_a.unsqueeze(1), beta)
                open_score = open_score.masked_fill(~new_ok, neg_inf)
                merge_into_pool(open_score, beam_logp, torch.full_like(new_parent, t), new_parent, new_tok,
                                torch.zeros_like(new_ok), new_attn)

            if record_steps:
                _record_step(steps, t, alive, prefix, top_logp, parent, token, fin_new, fin_score,
                             new_parent, new_tok, beam_logp, new_ok, lp_now, eos)
                prefix = torch.cat([prefix.gather(1, new_parent.unsqueeze(-1).expand(-1, -1, prefix.size(2))),
                                    new_tok.unsqueeze(-1)], dim=2)
                if last_step:
                    _record_last(steps, t, alive, prefix, beam_logp, open_score, new_ok)

            if last_step:
                break
            # 4. which sentences are done: pool full and no open hypothesis can beat its worst
            best_open = beam_logp.max(dim=1).values  # [A]
            bound = best_open / lp_max
            done = (bound <= pool_score[alive][:, K - 1]) | (best_open == neg_inf)
            keep = ~done
            n_keep = int(keep.sum())
            if n_keep == 0:
                break
            first_row = torch.arange(A, device=device).unsqueeze(1) * Kc  # [A, 1] row of beam 0
            flat = new_parent + first_row  # [A, K] row of each new beam's parent in this step's batch
            if n_keep < A:
                flat, first_row = flat[keep], first_row[keep]
                alive, beam_logp, mask_a = alive[keep], beam_logp[keep], mask_a[keep]
                new_tok = new_tok[keep]
                if coverage is not None:
                    coverage = coverage[keep]
                if prefix is not None:
                    prefix = prefix[keep]
            if n_keep < A or Kc != K:  # drop finished sentences / repeat to K beams after step 0
                enc = select_batch(enc, first_row.expand(-1, K).reshape(-1))
            state = select_batch(out.state, flat.reshape(-1))
            prev = new_tok.reshape(-1)

    hyps = _backtrack(pool_score, pool_logp, pool_end, pool_ptr, pool_tok, pool_fin, pool_attn,
                      tok_hist, par_hist, attn_hist, src_lens, n_best, eos)
    return BeamSearchOutput(hyps, steps)


def _record_step(steps, t, alive, prefix, top_logp, parent, token, fin_new, fin_score,
                 new_parent, new_tok, beam_logp, new_ok, lp_now, eos) -> None:
    """Append one :class:`BeamStep` per alive sentence (``record_steps``)."""
    K = new_tok.size(1)
    for a, b in enumerate(alive.tolist()):
        pre = prefix[a].tolist()
        kept, parents = [], []
        for k in range(K):
            if bool(new_ok[a, k]):
                p = int(new_parent[a, k])
                lpb = float(beam_logp[a, k])
                kept.append(Hypothesis(pre[p] + [int(new_tok[a, k])], lpb / lp_now, lpb, None, False))
                parents.append(p)
        finished = []
        for k in range(K):
            if bool(fin_new[a, k]):
                p = int(parent[a, k])
                finished.append(Hypothesis(list(pre[p]), float(fin_score[a, k]), float(top_logp[a, k]), None, True))
        finished.sort(key=lambda h: -h.score)
        steps[b].append(BeamStep(t, kept, parents, finished))


def _record_last(steps, t, alive, prefix, beam_logp, open_score, new_ok) -> None:
    """At ``max_len``: list the open hypotheses that join the pool unfinished."""
    for a, b in enumerate(alive.tolist()):
        stopped = [Hypothesis(prefix[a, k].tolist(), float(open_score[a, k]), float(beam_logp[a, k]), None, False)
                   for k in range(prefix.size(1)) if bool(new_ok[a, k])]
        steps[b][-1].finished.extend(sorted(stopped, key=lambda h: -h.score))
        steps[b][-1].finished.sort(key=lambda h: -h.score)


def _backtrack(pool_score, pool_logp, pool_end, pool_ptr, pool_tok, pool_fin, pool_attn,
               tok_hist, par_hist, attn_hist, src_lens, n_best, eos) -> List[List[Hypothesis]]:
    """Rebuild tokens and attention rows of the ``n_best`` first pooled hypotheses from the back-pointers."""
    n = min(n_best, pool_score.size(1))
    pool_score, pool_logp, pool_end = pool_score[:, :n], pool_logp[:, :n], pool_end[:, :n]
    pool_ptr, pool_tok, pool_fin = pool_ptr[:, :n].contiguous(), pool_tok[:, :n], pool_fin[:, :n]
    if pool_attn is not None:
        pool_attn = pool_attn[:, :n]
    B, K = pool_score.shape
    T = len(tok_hist)
    device = pool_score.device
    has_attn = pool_attn is not None and all(a is not None for a in attn_hist)
    tokens = torch.full((B, K, T), -1, dtype=torch.long, device=device)
    tokens.scatter_(2, pool_end.unsqueeze(-1), pool_tok.unsqueeze(-1))
    attn = None
    if has_attn:
        S = pool_attn.size(-1)
        attn = torch.zeros(B, K, T, S, device=device)
        attn.scatter_(2, pool_end[..., None, None].expand(B, K, 1, S), pool_attn.unsqueeze(2))
    ptr = pool_ptr.clone()
    for s in range(T - 2, -1, -1):
        m = s < pool_end  # [B, K]: step s lies on this hypothesis' path
        tokens[:, :, s] = torch.where(m, tok_hist[s].gather(1, ptr), tokens[:, :, s])
        if attn is not None:
            rows = attn_hist[s].gather(1, ptr.unsqueeze(-1).expand(-1, -1, attn.size(-1)))
            attn[:, :, s] = torch.where(m.unsqueeze(-1), rows, attn[:, :, s])
        ptr = torch.where(m, par_hist[s].gather(1, ptr), ptr)

    scores, logps, ends, fins = pool_score.tolist(), pool_logp.tolist(), pool_end.tolist(), pool_fin.tolist()
    tokens_l = tokens.tolist()
    lens = src_lens.tolist()
    result: List[List[Hypothesis]] = []
    for b in range(B):
        hyps = []
        for k in range(min(n_best, K)):
            if scores[b][k] == float("-inf"):
                break
            n_rows = ends[b][k] + 1
            ids = tokens_l[b][k][:n_rows]
            if fins[b][k]:
                ids = ids[:-1]  # drop <eos>; its attention row stays last
            rows = attn[b, k, :n_rows, : int(lens[b])].cpu() if attn is not None else None
            hyps.append(Hypothesis(ids, scores[b][k], logps[b][k], rows, bool(fins[b][k])))
        result.append(hyps)
    return result


# ---------------------------------------------------------------------------------------
# sentences in, translations out
# ---------------------------------------------------------------------------------------

@dataclass
class Translation:
    """One translated sentence.

    Attributes:
        src_tokens: source tokens as the model saw them (``<eos>`` included).
        tokens: generated target tokens, ``<eos>`` removed, and ``<pad>`` / ``<sos>`` (which
            a model may emit mid-sequence) dropped together with their attention rows;
            ``<unk>`` is kept (it carries information).
        attn_weights: ``[len(tokens) + 1, len(src_tokens)]``: row ``i`` is the attention of
            the step that produced ``tokens[i]``; the **last row is the step that produced**
            ``<eos>``. ``[len(tokens), len(src_tokens)]`` when ``max_len`` stopped the search
            before ``<eos>`` (``finished`` False). ``None`` for models without attention.
            Rows and :attr:`row_labels` correspond one to one.
        score: the search's score ``s(Y, X)`` (Wu et al. 2016, eq. 14); for greedy search
            ``log P(Y|X)``. ``None`` when unknown (built by hand).
        log_prob: ``log P(Y|X)`` in nats (``<eos>`` included), or ``None``.
        finished: True when the search produced ``<eos>``.
        alternatives: the 2nd, 3rd, ... best hypotheses of a beam search with ``n_best > 1``,
            as :class:`Translation` objects (best first); empty otherwise.

    Raises:
        TypeError: ``src_tokens`` or ``tokens`` is a str (it would be read character by
            character) or not a list of str tokens.
    """

    src_tokens: List[str]
    tokens: List[str]
    attn_weights: Optional[Tensor] = None
    score: Optional[float] = None
    log_prob: Optional[float] = None
    finished: bool = True
    alternatives: List["Translation"] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name in ("src_tokens", "tokens"):
            value = getattr(self, name)
            if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
                raise TypeError(f"Translation.{name} must be a list of str tokens, got {type(value).__name__} "
                                f"({value!r:.40}); split a sentence into tokens first")
            bad = [t for t in value if not isinstance(t, str)]
            if bad:
                raise TypeError(f"Translation.{name} must hold str tokens, got e.g. {bad[0]!r} ({type(bad[0]).__name__}); "
                                "map ids to tokens with Vocab.decode first")
            if not isinstance(value, list):
                setattr(self, name, list(value))

    @property
    def text(self) -> str:
        """The generated tokens joined by spaces (detokenise with the tokeniser for BLEU)."""
        return " ".join(self.tokens)

    @property
    def row_labels(self) -> List[str]:
        """One label per attention row: ``tokens`` plus ``<eos>`` when finished."""
        return list(self.tokens) + ([EOS] if self.finished else [])


def _encode_sources(token_lists: Sequence[List[str]], vocab, device) -> tuple[Tensor, Tensor]:
    ids = [[vocab[t] for t in toks] + [vocab.eos_id] for toks in token_lists]
    lens = torch.tensor([len(x) for x in ids], dtype=torch.long)
    src = torch.full((len(ids), int(lens.max())), vocab.pad_id, dtype=torch.long)
    for i, row in enumerate(ids):
        src[i, : len(row)] = torch.tensor(row)
    return src.to(device), lens.to(device)


def _make_translation(src_tokens: List[str], ids: List[int], attn: Optional[Tensor], finished: bool,
                      score: Optional[float], log_prob: Optional[float], tgt_vocab) -> Translation:
    """Tokens and attention rows kept one to one: ``<pad>``/``<sos>`` steps dropped with their rows."""
    drop = {tgt_vocab.pad_id, tgt_vocab.sos_id}
    keep = [j for j, i in enumerate(ids) if i not in drop]
    tokens = [tgt_vocab.itos[ids[j]] for j in keep]
    rows = None
    if attn is not None:
        index = keep + ([len(ids)] if finished else [])
        rows = attn[index].float().cpu()
    return Translation(list(src_tokens), tokens, rows, score, log_prob, finished)


def _greedy_translations(out: GreedyOutput, src_tokens: Sequence[List[str]], src_lens: Tensor, tgt_vocab) -> List[Translation]:
    result = []
    for i, ids in enumerate(out.hypotheses(tgt_vocab.eos_id)):
        attn = None
        if out.attn_weights is not None:
            attn = out.attn_weights[i, : int(out.lengths[i]), : int(src_lens[i])]
        lp = float(out.log_probs[i])
        result.append(_make_translation(src_tokens[i], ids, attn, bool(out.finished[i]), lp, lp, tgt_vocab))
    return result


def _beam_translations(out: BeamSearchOutput, src_tokens: Sequence[List[str]], tgt_vocab) -> List[Translation]:
    result = []
    for i, hyps in enumerate(out.hypotheses):
        trs = [_make_translation(src_tokens[i], h.tokens, h.attn_weights, h.finished, h.score, h.log_prob, tgt_vocab)
               for h in hyps]
        trs[0].alternatives = trs[1:]
        result.append(trs[0])
    return result


def _search(model, src, src_lens, src_tokens, tgt_vocab, max_len, beam_size, alpha, beta, n_best) -> List[Translation]:
    if beam_size == 1 and alpha == 0 and beta == 0 and n_best == 1:
        return _greedy_translations(greedy_decode(model, src, src_lens, max_len), src_tokens, src_lens, tgt_vocab)
    out = beam_search(model, src, src_lens, beam_size, max_len, alpha, beta, n_best)
    return _beam_translations(out, src_tokens, tgt_vocab)


def _check_vocabs(model, src_vocab, tgt_vocab) -> None:
    for name, vocab, size in (("src_vocab", src_vocab, model.src_vocab_size), ("tgt_vocab", tgt_vocab, model.tgt_vocab_size)):
        if not hasattr(vocab, "itos") or not hasattr(vocab, "eos_id"):
            raise TypeError(f"{name} must be a course_lib.data.Vocab, got {type(vocab).__name__}")
        if len(vocab.itos) != size:
            raise ValueError(f"{name} has {len(vocab.itos)} tokens but the model was built for {size}; "
                             "pass the vocabularies the model was trained with")


def _check_search_args(model, max_len, beam_size, alpha, beta, n_best) -> None:
    if max_len is not None:
        _check_int("max_len", max_len, 1)
    _check_beam_args(beam_size, alpha, beta, n_best)
    if beta > 0 and not getattr(model, "has_attention", False):
        raise ValueError(f"{type(model).__name__} has no attention, so the coverage penalty is undefined; use beta=0")


@torch.no_grad()
def translate(model: Seq2Seq, sentences: Sequence[str] | str, src_tokenizer, src_vocab, tgt_vocab,
              max_len: Optional[int] = None, beam_size: int = 1, alpha: float = 0.0, beta: float = 0.0,
              n_best: int = 1) -> List[Translation]:
    """Translate raw sentences: greedy search by default, :func:`beam_search` otherwise.

    With ``beam_size=1, alpha=0, beta=0, n_best=1`` (the defaults) this runs
    :func:`greedy_decode` (which is beam search with a beam of one); any other setting runs
    :func:`beam_search`. Each :class:`Translation` carries its ``score`` and ``log_prob``.

    Args:
        sentences: source sentences as strings. A single ``str`` is one sentence (the result
            is then a list of one :class:`Translation`), never a sequence of characters.
        src_tokenizer: ``str -> list[str]`` (the one the model was trained with).
        src_vocab, tgt_vocab: the model's vocabularies (:class:`course_lib.data.Vocab`).
        max_len: most target tokens per sentence, ``<eos>`` included (default
            :func:`default_max_len`).
        beam_size, alpha, beta, n_best: see :func:`beam_search`; with ``n_best > 1`` each
            translation's :attr:`Translation.alternatives` holds the runners-up.

    Returns:
        One :class:`Translation` per sentence, in order.

    Raises:
        ValueError: ``sentences`` is empty, a sentence has no tokens, the vocabularies do not
            match the model's sizes, or a search argument is invalid (see :func:`beam_search`).
        TypeError: ``sentences`` holds something other than strings, a vocabulary is not
            a :class:`~course_lib.data.Vocab`, ``model`` is not a
            :class:`~course_lib.models.Seq2Seq`, or ``src_tokenizer`` is not callable or
            returns something other than a list of str tokens (a str is refused: it would be
            read character by character).
    """
    if isinstance(sentences, str):
        sentences = [sentences]
    if sentences is None or not isinstance(sentences, Sequence):
        raise TypeError(f"sentences must be a list of strings (or one string), got {type(sentences).__name__}")
    if len(sentences) == 0:
        raise ValueError("translate() needs at least one sentence")
    bad = [s for s in sentences if not isinstance(s, str)]
    if bad:
        raise TypeError(f"sentences must be strings, got e.g. {bad[0]!r} ({type(bad[0]).__name__})")
    if not callable(src_tokenizer):
        raise TypeError("src_tokenizer must be a callable str -> list[str]")
    _check_model(model)
    _check_vocabs(model, src_vocab, tgt_vocab)
    _check_search_args(model, max_len, beam_size, alpha, beta, n_best)
    token_lists = []
    for s in sentences:
        toks = src_tokenizer(s)
        if isinstance(toks, (str, bytes)) or not isinstance(toks, Sequence):
            raise TypeError(f"src_tokenizer must return a list of str tokens, but it returned a {type(toks).__name__} "
                            f"for {s!r:.40}; pass the tokeniser the model was trained with (e.g. data.src_tokenizer)")
        if not all(isinstance(t, str) for t in toks):
            raise TypeError(f"src_tokenizer must return str tokens, but for {s!r:.40} it returned {list(toks)!r:.60}")
        if not toks:
            raise ValueError(f"sentence {s!r} has no tokens to translate")
        token_lists.append(list(toks))
    src, src_lens = _encode_sources(token_lists, src_vocab, _model_device(model))
    src_tokens = [toks + [EOS] for toks in token_lists]
    return _search(model, src, src_lens, src_tokens, tgt_vocab, max_len, beam_size, alpha, beta, n_best)


@torch.no_grad()
def translate_dataset(model: Seq2Seq, dataset, batch_size: int = 128, max_len: Optional[int] = None,
                      progress: bool = False, beam_size: int = 1, alpha: float = 0.0,
                      beta: float = 0.0) -> List[Translation]:
    """Translate every source sentence of a :class:`course_lib.data.TranslationDataset`.

    Greedy search at ``beam_size=1, alpha=0, beta=0`` (the defaults), else
    :func:`beam_search` with ``alpha`` / ``beta`` (best hypothesis only). Sentences are batched by length (little padding) and returned in the
    dataset's order.

    Args:
        batch_size: sentences per search batch (``>= 1``; a beam search runs
            ``batch_size * beam_size`` rows).
        max_len: most target tokens per sentence (default :func:`default_max_len` per batch).
        progress: show a progress bar.

    Returns:
        A list of :class:`Translation`, ``len(dataset)`` long.

    Raises:
        ValueError: ``batch_size`` below 1 or not an integer, an empty dataset, vocabularies
            that do not match the model, or an invalid search argument (see :func:`beam_search`).
        TypeError: ``dataset`` is not a ``TranslationDataset``; ``model`` is not a
            :class:`~course_lib.models.Seq2Seq`; ``progress`` is not a bool.
    """
    from tqdm.auto import tqdm

    _check_model(model)
    batch_size = _check_int("batch_size", batch_size, 1)
    progress = check_flag(progress, "progress")
    if not all(hasattr(dataset, a) for a in ("src_tokens", "src_vocab", "tgt_vocab")):
        raise TypeError(f"dataset must be a course_lib.data.TranslationDataset, got {type(dataset).__name__}")
    if len(dataset.src_tokens) == 0:
        raise ValueError("the dataset is empty: nothing to translate")
    src_vocab, tgt_vocab = dataset.src_vocab, dataset.tgt_vocab
    _check_vocabs(model, src_vocab, tgt_vocab)
    _check_search_args(model, max_len, beam_size, alpha, beta, 1)
    empty = [i for i, toks in enumerate(dataset.src_tokens) if not toks]
    if empty:
        raise ValueError(f"sentence {empty[0]} of the dataset has no source tokens")
    device = _model_device(model)
    order = sorted(range(len(dataset.src_tokens)), key=lambda i: len(dataset.src_tokens[i]))
    results: List[Optional[Translation]] = [None] * len(order)
    for start in tqdm(range(0, len(order), batch_size), disable=not progress, desc="translating"):
        idx = order[start:start + batch_size]
        token_lists = [dataset.src_tokens[i] for i in idx]
        src, src_lens = _encode_sources(token_lists, src_vocab, device)
        src_tokens = [list(toks) + [EOS] for toks in token_lists]
        for i, tr in zip(idx, _search(model, src, src_lens, src_tokens, tgt_vocab, max_len, beam_size, alpha, beta, 1)):
            results[i] = tr
    return results  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------
# the decoder stepper's trace
# ---------------------------------------------------------------------------------------

@dataclass
class StepTrace:
    """One decoder step, for the stepper widgets.

    Attributes:
        step: 0-based position. prefix: target tokens generated before this step.
        token: the word taken at this step (greedy, or forced). topk_tokens / topk_probs: the
            ``k`` most probable next words and their probabilities (the model's, also at a
            forced step). attn_weights: ``[S]`` or ``None``.
        forced: True where ``token`` was forced by :func:`decode_trace`'s ``prefix``
            (whatever the model's own top-1 was); False where greedy search chose it.
    """

    step: int
    prefix: List[str]
    token: str
    topk_tokens: List[str]
    topk_probs: List[float]
    attn_weights: Optional[List[float]]
    forced: bool = False


@torch.no_grad()
def decode_trace(model: Seq2Seq, src_tokens: List[str], src_vocab, tgt_vocab, k: int = 5,
                 max_len: Optional[int] = None, prefix: Optional[Sequence[str]] = None) -> List[StepTrace]:
    """Greedy-decode one tokenised sentence and record every step (for the decoder stepper).

    Runs the loop of :func:`greedy_decode` with ``record_topk=k`` (the same loop as every
    greedy translation), so the trace's tokens are exactly greedy search's. With ``prefix``
    the first ``len(prefix)`` target tokens are forced (forced decoding, as teacher forcing
    at inference: "what if the model had written another word here?"); greedy search
    continues from there. Every step still records the model's top-k and attention.

    Args:
        src_tokens: source tokens, a list of strings (without ``<eos>``; it is appended).
        k: how many next-word candidates to keep per step (``>= 1``; capped at ``V``).
        max_len: most steps (default :func:`default_max_len`, at least ``len(prefix)``).
        prefix: target tokens forced at steps ``0 .. len(prefix)-1`` (default none); an
            ``<eos>`` may only come last (it ends the trace).

    Returns:
        A list of :class:`StepTrace`, one per generated token, the last producing ``<eos>``
        (unless ``max_len`` was reached); ``forced`` is True on the prefix's steps.

    Raises:
        TypeError: ``src_tokens`` or ``prefix`` is a ``str`` (tokenise it first) or holds
            non-strings; ``model`` is not a :class:`~course_lib.models.Seq2Seq`.
        ValueError: ``src_tokens`` is empty; ``k`` below 1, ``max_len`` below
            ``max(1, len(prefix))``, or either not an integer; vocabularies that do not match
            the model; a prefix token not in ``tgt_vocab`` (the message names it).
    """
    if isinstance(src_tokens, str):
        raise TypeError("decode_trace() expects a list of source tokens, got a str; tokenise the sentence first "
                        "(e.g. corpus.src_tokenizer(text))")
    if src_tokens is None or not isinstance(src_tokens, Sequence):
        raise TypeError(f"src_tokens must be a list of strings, got {type(src_tokens).__name__}")
    if len(src_tokens) == 0:
        raise ValueError("decode_trace() needs at least one source token")
    if not all(isinstance(t, str) for t in src_tokens):
        raise TypeError("src_tokens must be strings")
    k = _check_int("k", k, 1)
    prefix = check_tokens([] if prefix is None else prefix, "prefix")
    if max_len is not None:
        max_len = check_int(max_len, "max_len", low=max(1, len(prefix)))
    _check_model(model)
    _check_vocabs(model, src_vocab, tgt_vocab)
    index = {t: i for i, t in enumerate(tgt_vocab.itos)}
    bad = [t for i, t in enumerate(prefix) if t not in index or (t == EOS and i < len(prefix) - 1)]
    if bad:
        raise ValueError(f"prefix token {bad[0]!r} cannot be forced: " + (
            "<eos> ends the sentence, so it may only be the prefix's last token" if bad[0] == EOS else
            "it is not in the target vocabulary (pick a word from a step's topk_tokens or tgt_vocab.itos)"))
    src, src_lens = _encode_sources([list(src_tokens)], src_vocab, _model_device(model))
    if max_len is None:
        max_len = max(default_max_len(src_lens), len(prefix))
    forced = torch.tensor([[index[t] for t in prefix]], dtype=torch.long, device=src.device) if prefix else None
    out = _greedy(model, src, src_lens, max_len, k, forced)
    itos = tgt_vocab.itos
    steps: List[StepTrace] = []
    generated: List[str] = []
    for t in range(int(out.lengths[0])):
        token_id = int(out.tokens[0, t])
        attn = out.attn_weights[0, t].float().cpu().tolist() if out.attn_weights is not None else None
        steps.append(StepTrace(t, list(generated), itos[token_id], [itos[i] for i in out.topk_ids[0, t].tolist()],
                               out.topk_probs[0, t].tolist(), attn, t < len(prefix)))
        generated.append(itos[token_id])
    return steps
