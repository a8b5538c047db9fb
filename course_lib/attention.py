"""Attention: every score function of the course behind one interface.

All modules here share one calling convention (batch-first)::

    context, weights = attn(query, keys, values=None, mask=None, proj_keys=None)

======================  =========================  =====================================
argument                shape                      meaning
======================  =========================  =====================================
``query``               ``[B, Hq]`` or             decoder state(s): one step, or all
                        ``[B, T, Hq]``             ``T`` target steps at once
``keys``                ``[B, S, Hk]``             encoder outputs (``enc_outputs``)
``values``              ``[B, S, Hv]``             what gets averaged; defaults to ``keys``
``mask``                ``[B, S]`` or              ``src_pad_mask``: bool, **True where
                        ``[B, T, S]``              padding**; padded positions get weight 0
``proj_keys``           module-specific            the output of :meth:`Attention.project_keys`
``context`` (returned)  ``[B, Hv]`` / ``[B,T,Hv]`` weighted sum of the values
``weights`` (returned)  ``[B, S]`` / ``[B,T,S]``   attention weights, sum to 1 over real
                                                   positions, exactly 0.0 on padding
======================  =========================  =====================================

Every module computes attention in the same four steps:

1. **score**  -- one number per source position, ``score(h_t, h_s)``;
2. **softmax** -- turn the scores into weights that are positive and sum to one
   (padded positions are masked out *before* the softmax);
3. **weight** -- multiply every value vector by its weight;
4. **sum**    -- add the weighted vectors up: the context vector.

Only step 1 differs between the modules:

==================  ===========================================  ============================
name                score(h_t, h_s)                              source
==================  ===========================================  ============================
``dot``             ``h_t . h_s``                                Luong et al. 2015, eq. 8
``scaled_dot``      ``h_t . h_s / sqrt(d)``                      Vaswani et al. 2017, eq. 1
``general``         ``h_t^T W_a h_s``                            Luong et al. 2015, eq. 8
``additive``        ``v_a^T tanh(W_a h_t + U_a h_s)``            Bahdanau et al. 2015, A.1.2
 / ``concat``       (= ``v_a^T tanh(W_a [h_t; h_s])``)           (Luong et al. 2015, eq. 8)
``location``        ``a_t = softmax(W_a h_t)`` (no ``h_s``)      Luong et al. 2015, sec. 3.1
``query_key``       ``(W_Q h_t) . (W_K h_s)``                    source article 000 of the
                                                                 course (trainable W_Q, W_K)
==================  ===========================================  ============================

Every module also takes ``temperature`` (default 1.0): the scores are divided by it
before the softmax. Values above 1 soften the distribution, values below 1 sharpen it.

The step-independent part of a score (``W_a h_s``, ``U_a h_s``, ``W_K h_s``) depends only on
the source sentence. :meth:`Attention.project_keys` computes it; a decoder calls it once per
batch of source sentences and passes the result as ``proj_keys=`` at every decoding step.

Nothing here keeps the weights as module state: they are returned.

References:
    Bahdanau, Cho, Bengio (2015). Neural Machine Translation by Jointly Learning to Align
    and Translate. ICLR. (Appendix A.1.2, the alignment model.)
    Luong, Pham, Manning (2015). Effective Approaches to Attention-based Neural Machine
    Translation. EMNLP. (Section 3.1, eq. 7-9.)
    Vaswani et al. (2017). Attention Is All You Need. NeurIPS. (Section 3.2.1, eq. 1.)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "masked_softmax",
    "Attention",
    "DotAttention",
    "ScaledDotAttention",
    "GeneralAttention",
    "AdditiveAttention",
    "LocationAttention",
    "QueryKeyAttention",
    "SCORE_FUNCTIONS",
    "make_attention",
]


def masked_softmax(scores: Tensor, mask: Tensor | None, dim: int = -1) -> Tensor:
    """Softmax over ``dim`` that gives padded positions exactly zero weight.

    ``weights = softmax(scores with padded positions set to -inf)``, so that
    ``exp(-inf) = 0.0`` exactly, in fp32, fp16 and bf16 alike (also under autocast).

    Args:
        scores: ``[B, S]`` or ``[B, T, S]`` (any float dtype).
        mask: bool, **True where padding** (``src_pad_mask``), broadcastable to ``scores``.
            A ``[B, S]`` mask is used against ``[B, T, S]`` scores by unsqueezing it to
            ``[B, 1, S]``. ``None`` means no position is masked.
        dim: the dimension to normalise over (the source positions; default last).

    Returns:
        Weights with the shape of ``scores``: non-negative, summing to 1 over the real
        positions of every row, exactly ``0.0`` where ``mask`` is True.

    Raises:
        TypeError: ``mask`` is not a bool tensor (the polarity would be ambiguous).
        ValueError: ``mask`` cannot be broadcast to ``scores``; or some row is masked
            entirely (a sentence with no real token: check that ``src_lens > 0``).
    """
    if mask is None:
        return F.softmax(scores, dim=dim)
    if mask.dtype != torch.bool:
        raise TypeError(
            f"mask must be a bool tensor with True where padding (src_pad_mask), got dtype {mask.dtype}"
        )
    while mask.dim() < scores.dim():
        mask = mask.unsqueeze(-2)  # [B, S] -> [B, 1, S] against [B, T, S] scores
    try:
        mask = mask.expand_as(scores)
    except RuntimeError:
        raise ValueError(
            f"mask of shape {tuple(mask.shape)} does not fit scores of shape {tuple(scores.shape)}; "
            "expected [B, S] or [B, T, S] with True where padding"
        ) from None
    fully_masked = mask.all(dim=dim)
    if bool(fully_masked.any()):
        rows = fully_masked.nonzero().tolist()
        shown = [r[0] if len(r) == 1 else tuple(r) for r in rows[:10]]
        more = f" (and {len(rows) - 10} more)" if len(rows) > 10 else ""
        raise ValueError(
            f"attention mask covers every position of row(s) {shown}{more}: "
            "every sentence needs at least one real (non-padding) token; check that src_lens > 0"
        )
    weights = F.softmax(scores.masked_fill(mask, float("-inf")), dim=dim)
    # exp(-inf) is already 0.0; the fill makes it explicit and guards against NaN inputs.
    return weights.masked_fill(mask, 0.0)


def _check_inputs(query: Tensor, keys: Tensor, values: Tensor) -> None:
    if keys.dim() != 3:
        raise ValueError(f"keys must be [B, S, Hk], got shape {tuple(keys.shape)}")
    if query.dim() not in (2, 3):
        raise ValueError(f"query must be [B, Hq] or [B, T, Hq], got shape {tuple(query.shape)}")
    if query.size(0) != keys.size(0):
        raise ValueError(f"query has batch size {query.size(0)} but keys have {keys.size(0)}")
    if values.dim() != 3 or values.shape[:2] != keys.shape[:2]:
        raise ValueError(
            f"values must be [B, S, Hv] with the B and S of keys {tuple(keys.shape[:2])}, "
            f"got shape {tuple(values.shape)}"
        )


class Attention(nn.Module):
    """Base class: the four steps (score, softmax, weight, sum) shared by every variant.

    Subclasses implement ``_score(query3, proj_keys) -> [B, T, S]`` for a 3-D query and
    may override :meth:`project_keys`. :meth:`score` handles 2-D queries and the
    temperature; :meth:`forward` does the masked softmax and the weighted sum.

    Args:
        temperature: the scores are divided by it before the softmax (default 1.0).
            Higher values give a softer (higher-entropy) distribution.

    Raises:
        ValueError: ``temperature`` is not positive.
    """

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.temperature = float(temperature)

    def project_keys(self, keys: Tensor) -> Tensor:
        """The step-independent part of the score, computed once per source sentence.

        Args:
            keys: ``[B, S, Hk]`` encoder outputs.

        Returns:
            The projected keys (identity here: ``[B, S, Hk]``); pass them to
            :meth:`forward` as ``proj_keys=`` at every decoding step.
        """
        return keys

    def _score(self, query: Tensor, proj_keys: Tensor) -> Tensor:  # pragma: no cover
        raise NotImplementedError

    def score(self, query: Tensor, proj_keys: Tensor) -> Tensor:
        """Step 1: the scores that go into the softmax (already divided by the temperature).

        Args:
            query: ``[B, Hq]`` (one step) or ``[B, T, Hq]`` (all steps).
            proj_keys: the output of :meth:`project_keys`.

        Returns:
            ``[B, S]`` for a 2-D query, ``[B, T, S]`` for a 3-D query.
        """
        single = query.dim() == 2
        q = query.unsqueeze(1) if single else query  # [B, T, Hq]
        scores = self._score(q, proj_keys)  # [B, T, S]
        if self.temperature != 1.0:
            scores = scores / self.temperature
        return scores.squeeze(1) if single else scores

    def forward(
        self,
        query: Tensor,
        keys: Tensor,
        values: Tensor | None = None,
        mask: Tensor | None = None,
        proj_keys: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Attend from ``query`` over ``keys`` and return ``(context, weights)``.

        Args:
            query: ``[B, Hq]`` (one decoder step) or ``[B, T, Hq]`` (all steps at once).
            keys: ``[B, S, Hk]`` encoder outputs.
            values: ``[B, S, Hv]``; defaults to ``keys``.
            mask: bool ``[B, S]`` or ``[B, T, S]``, True where padding (``src_pad_mask``).
            proj_keys: ``self.project_keys(keys)`` computed earlier; when given it is used
                as is and ``project_keys`` is not called again.

        Returns:
            ``context``: ``[B, Hv]`` or ``[B, T, Hv]``, the weighted sum of the values;
            ``weights``: ``[B, S]`` or ``[B, T, S]``, exactly 0.0 at padded positions.

        Raises:
            ValueError: inconsistent shapes, or a row whose positions are all padding.
            TypeError: a mask that is not bool.
        """
        if values is None:
            values = keys
        _check_inputs(query, keys, values)
        if proj_keys is None:
            proj_keys = self.project_keys(keys)
        scores = self.score(query, proj_keys)  # [B, S] or [B, T, S]
        weights = masked_softmax(scores, mask, dim=-1)
        if query.dim() == 2:
            context = torch.bmm(weights.unsqueeze(1), values).squeeze(1)  # [B, Hv]
        else:
            context = torch.bmm(weights, values)  # [B, T, Hv]
        return context, weights

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}" if self.temperature != 1.0 else ""


def _require_same_dim(query: Tensor, keys: Tensor, name: str) -> None:
    if query.size(-1) != keys.size(-1):
        raise ValueError(
            f"{name} attention needs query and keys of the same size, got {query.size(-1)} and "
            f"{keys.size(-1)}; use 'general', 'additive' or 'query_key' for different sizes"
        )


class DotAttention(Attention):
    """Dot-product score: ``score(h_t, h_s) = h_t . h_s`` (divided by ``temperature``).

    Luong et al. 2015, eq. 8 ("dot"). No parameters. ``Hq`` must equal ``Hk``.

    Shapes: query ``[B, Hq]`` / ``[B, T, Hq]``, keys ``[B, S, Hq]`` -> scores ``[B, S]`` /
    ``[B, T, S]``. Example (the course's numeric example): ``h_t = [10, 5, 10]`` against
    ``[0,1,1], [5,0,1], [1,1,0], [0,5,1]`` scores ``15, 60, 15, 35``.

    Args:
        temperature: divide the scores by this before the softmax (default 1.0).

    Raises:
        ValueError: query and keys differ in size (in :meth:`forward`).
    """

    def _score(self, query: Tensor, proj_keys: Tensor) -> Tensor:
        _require_same_dim(query, proj_keys, "dot")
        return torch.bmm(query, proj_keys.transpose(1, 2))  # [B, T, S]


class ScaledDotAttention(Attention):
    """Scaled dot product: ``score(h_t, h_s) = h_t . h_s / sqrt(d)``, ``d = Hk``.

    Vaswani et al. 2017, section 3.2.1, eq. 1. Dividing by ``sqrt(d)`` keeps the scores'
    spread roughly independent of the vector size, so the softmax does not saturate for
    large ``d``. No parameters. ``Hq`` must equal ``Hk``.

    Args:
        temperature: an extra divisor on top of ``sqrt(d)`` (default 1.0).

    Raises:
        ValueError: query and keys differ in size (in :meth:`forward`).
    """

    def _score(self, query: Tensor, proj_keys: Tensor) -> Tensor:
        _require_same_dim(query, proj_keys, "scaled_dot")
        return torch.bmm(query, proj_keys.transpose(1, 2)) / math.sqrt(proj_keys.size(-1))


class GeneralAttention(Attention):
    """General (bilinear) score: ``score(h_t, h_s) = h_t^T W_a h_s``.

    Luong et al. 2015, eq. 8 ("general"). ``W_a`` is ``[Hq, Hk]`` (an ``nn.Linear(Hk, Hq,
    bias=False)``, attribute ``W_a``). :meth:`project_keys` computes ``W_a h_s`` for every
    source position once: ``[B, S, Hk] -> [B, S, Hq]``; each step is then a dot product.

    Args:
        query_dim: ``Hq``.
        key_dim: ``Hk``.
        temperature: divide the scores by this before the softmax (default 1.0).
    """

    def __init__(self, query_dim: int, key_dim: int, temperature: float = 1.0) -> None:
        super().__init__(temperature)
        self.W_a = nn.Linear(key_dim, query_dim, bias=False)

    def project_keys(self, keys: Tensor) -> Tensor:
        """``W_a h_s`` for every source position: ``[B, S, Hk] -> [B, S, Hq]``."""
        return self.W_a(keys)

    def _score(self, query: Tensor, proj_keys: Tensor) -> Tensor:
        return torch.bmm(query, proj_keys.transpose(1, 2))  # [B, T, S]


class AdditiveAttention(Attention):
    """Additive (MLP, "concat") score: ``score(h_t, h_s) = v_a^T tanh(W_a h_t + U_a h_s)``.

    Bahdanau et al. 2015, appendix A.1.2 (there ``h_t`` is the previous decoder state
    ``s_{i-1}``); Luong et al. 2015, eq. 8 "concat", ``v_a^T tanh(W_a [h_t; h_s])``, is the
    same function with ``W_a`` split into the blocks that act on ``h_t`` and on ``h_s``.

    Parameters (no biases, as in the papers): ``W_a`` ``[A, Hq]``, ``U_a`` ``[A, Hk]``,
    ``v_a`` ``[A]`` (``nn.Linear`` modules). :meth:`project_keys` computes ``U_a h_s``
    ``[B, S, A]`` once per source sentence -- the costly part, since it touches every
    source position -- and each step only adds ``W_a h_t`` ``[B, A]`` to it.

    Args:
        query_dim: ``Hq``.
        key_dim: ``Hk``.
        attn_dim: ``A``, the size of the hidden layer of the alignment model.
        temperature: divide the scores by this before the softmax (default 1.0).
    """

    def __init__(self, query_dim: int, key_dim: int, attn_dim: int, temperature: float = 1.0) -> None:
        super().__init__(temperature)
        self.W_a = nn.Linear(query_dim, attn_dim, bias=False)
        self.U_a = nn.Linear(key_dim, attn_dim, bias=False)
        self.v_a = nn.Linear(attn_dim, 1, bias=False)

    def project_keys(self, keys: Tensor) -> Tensor:
        """``U_a h_s`` for every source position: ``[B, S, Hk] -> [B, S, A]``."""
        return self.U_a(keys)

    def _score(self, query: Tensor, proj_keys: Tensor) -> Tensor:
        q = self.W_a(query)  # [B, T, A]
        hidden = torch.tanh(q.unsqueeze(2) + proj_keys.unsqueeze(1))  # [B, T, S, A]
        return self.v_a(hidden).squeeze(-1)  # [B, T, S]


class LocationAttention(Attention):
    """Location-based attention: ``a_t = softmax(W_a h_t)``, computed from the query alone.

    Luong et al. 2015, sec. 3.1: the location-based function, given after the score functions of eq. 8. The scores do not
    look at the encoder states at all: ``W_a`` (``[max_src_len, Hq]``, ``nn.Linear``
    without bias) gives one score per source *position*. The keys are used only for their
    length ``S``: the scores are cut to the first ``S`` positions, and padding is masked
    as usual. The values are still averaged with these weights.

    Args:
        query_dim: ``Hq``.
        max_src_len: the longest source sentence the module can attend over.
        temperature: divide the scores by this before the softmax (default 1.0).

    Raises:
        ValueError: ``S > max_src_len`` (in :meth:`forward`).
    """

    def __init__(self, query_dim: int, max_src_len: int, temperature: float = 1.0) -> None:
        super().__init__(temperature)
        if max_src_len < 1:
            raise ValueError(f"max_src_len must be at least 1, got {max_src_len}")
        self.max_src_len = int(max_src_len)
        self.W_a = nn.Linear(query_dim, max_src_len, bias=False)

    def _score(self, query: Tensor, proj_keys: Tensor) -> Tensor:
        S = proj_keys.size(1)
        if S > self.max_src_len:
            raise ValueError(
                f"LocationAttention was built for at most {self.max_src_len} source positions but "
                f"got S={S}; raise max_src_len (or filter longer sentences out)"
            )
        return self.W_a(query)[..., :S]  # [B, T, S]

    def extra_repr(self) -> str:
        extra = super().extra_repr()
        return f"max_src_len={self.max_src_len}" + (f", {extra}" if extra else "")


class QueryKeyAttention(Attention):
    """Query/key attention with trainable ``W_Q`` and ``W_K``: ``score = (h_t W_Q) . (h_s W_K)``.

    The form the course's source article 000 presents: queries and keys are two dense
    layers of the decoder state and of the encoder outputs, and the score is their dot
    product (Vaswani et al. 2017 add the ``1/sqrt(d)`` of :class:`ScaledDotAttention`;
    this module leaves it out, as the article does). The article's shapes, with a batch of
    64 sentences of 16 tokens and 1024 hidden units::

        H     (64, 16, 1024)   encoder outputs (keys and values)
        W_K   (1024, 1024)     K = H W_K          -> (64, 16, 1024)   (project_keys)
        S     (64, 1, 1024)    decoder state (query, T = 1)
        W_Q   (1024, 1024)     Q = S W_Q          -> (64, 1, 1024)
        alpha (64, 16, 1)      softmax(K Q^T) over the 16 positions

    Here ``weights`` come back as ``[B, S]`` (= ``alpha.squeeze(-1)``) or ``[B, T, S]``.
    ``W_Q`` and ``W_K`` are ``nn.Linear(Hq, A)`` / ``nn.Linear(Hk, A)`` without bias
    (``nn.Linear`` stores the transpose of the matrix multiplied from the right).

    Args:
        query_dim: ``Hq``.
        key_dim: ``Hk``.
        attn_dim: ``A``, the size of queries and keys.
        temperature: divide the scores by this before the softmax (default 1.0).
    """

    def __init__(self, query_dim: int, key_dim: int, attn_dim: int, temperature: float = 1.0) -> None:
        super().__init__(temperature)
        self.W_Q = nn.Linear(query_dim, attn_dim, bias=False)
        self.W_K = nn.Linear(key_dim, attn_dim, bias=False)

    def project_keys(self, keys: Tensor) -> Tensor:
        """``K = H W_K``: ``[B, S, Hk] -> [B, S, A]``."""
        return self.W_K(keys)

    def _score(self, query: Tensor, proj_keys: Tensor) -> Tensor:
        return torch.bmm(self.W_Q(query), proj_keys.transpose(1, 2))  # [B, T, S]


SCORE_FUNCTIONS: dict[str, type[Attention]] = {
    "dot": DotAttention,
    "scaled_dot": ScaledDotAttention,
    "general": GeneralAttention,
    "additive": AdditiveAttention,
    "concat": AdditiveAttention,
    "location": LocationAttention,
    "query_key": QueryKeyAttention,
}
"""Score-function name -> class. ``"concat"`` (Luong's name) is ``"additive"`` (Bahdanau's)."""


def make_attention(
    name: str,
    query_dim: int,
    key_dim: int,
    attn_dim: int | None = None,
    max_src_len: int = 100,
    temperature: float = 1.0,
) -> Attention:
    """Build an attention module by score-function name.

    Args:
        name: one of :data:`SCORE_FUNCTIONS` (``dot``, ``scaled_dot``, ``general``,
            ``additive``, ``concat``, ``location``, ``query_key``); case and ``-`` vs ``_``
            do not matter.
        query_dim: ``Hq``, the size of the decoder state.
        key_dim: ``Hk``, the size of the encoder outputs.
        attn_dim: ``A`` for ``additive``/``concat``/``query_key``; defaults to ``key_dim``.
            Ignored by the others.
        max_src_len: for ``location`` only (default 100).
        temperature: divide the scores by this before the softmax (default 1.0).

    Returns:
        An :class:`Attention` module.

    Raises:
        ValueError: unknown name (the message lists the valid ones); ``dot`` or
            ``scaled_dot`` with ``query_dim != key_dim``.
    """
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    if key not in SCORE_FUNCTIONS:
        raise ValueError(f"unknown score function {name!r}; choose one of {', '.join(SCORE_FUNCTIONS)}")
    if key in ("dot", "scaled_dot"):
        if query_dim != key_dim:
            raise ValueError(
                f"{key!r} attention needs query_dim == key_dim, got {query_dim} and {key_dim}; "
                "use 'general', 'additive' or 'query_key' when the sizes differ"
            )
        return SCORE_FUNCTIONS[key](temperature=temperature)
    if key == "general":
        return GeneralAttention(query_dim, key_dim, temperature=temperature)
    if key == "location":
        return LocationAttention(query_dim, max_src_len, temperature=temperature)
    return SCORE_FUNCTIONS[key](query_dim, key_dim, attn_dim or key_dim, temperature=temperature)
