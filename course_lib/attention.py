"""Attention: every score function of the course behind one interface (batch-first)::

    context, weights = attn(query, keys, values=None, mask=None, proj_keys=None)

======================  =========================  =====================================
argument                shape                      meaning
======================  =========================  =====================================
``query``               ``[B, Hq]`` / ``[B,T,Hq]`` decoder state(s): one step, or ``T`` at once
``keys``                ``[B, S, Hk]``             encoder outputs (``enc_outputs``)
``values``              ``[B, S, Hv]``             what gets averaged; defaults to ``keys``
``mask``                ``[B, S]`` / ``[B, T, S]`` bool, **True where padding** (``src_pad_mask``)
``proj_keys``           ``[B, S, P]``              :meth:`Attention.project_keys`, computed once
``context`` (returned)  ``[B, Hv]`` / ``[B,T,Hv]`` weighted sum of the values
``weights`` (returned)  ``[B, S]`` / ``[B, T, S]`` sum to 1 over real positions, exactly 0.0 on padding
======================  =========================  =====================================

Every module computes attention in four steps: **score** each source position,
**softmax** the scores into weights (padding masked out *before* the softmax), **weight** the
value vectors and **sum** them into the context. Only the score differs:

==================  ===========================================  ============================
name                score(h_t, h_s)                              source
==================  ===========================================  ============================
``dot``             ``h_t . h_s``                                Luong et al. 2015, sec. 3.1
``general``         ``h_t^T W_a h_s``                            (the score functions shown
``concat``          ``v_a^T tanh(W_a [h_t; h_s])``               after eq. 7, unnumbered)
 = ``additive``     ``v_a^T tanh(W_a h_t + U_a h_s)``            Bahdanau et al. 2015, A.1.2
``location``        ``a_t = softmax(W_a h_t)`` (no ``h_s``)      Luong et al. 2015, eq. 8
``scaled_dot``      ``h_t . h_s / sqrt(d)``                      Vaswani et al. 2017, eq. 1
``query_key``       ``(W_Q h_t) . (W_K h_s)``                    the same, without the scaling
==================  ===========================================  ============================

Every module takes ``temperature`` (default 1.0): the scores are divided by it before the
softmax (above 1 softer, below 1 sharper). No module has a bias, as in the papers. The
step-independent part of a score (``W_a h_s``, ``U_a h_s``, ``W_K h_s``) is
:meth:`Attention.project_keys`: a decoder computes it once per batch and passes it as
``proj_keys=`` at every step. The weights are returned, never kept as module state.

**Checked at the door.** :meth:`Attention.forward` and :func:`masked_softmax` check their
arguments and read values once per call (NaN, a mask row that is all padding). A model checks
its batch once in ``encode`` and calls :meth:`Attention.attend` -- the same computation without
checks or host reads -- at every step.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .checks import InputTypeError, check_int, check_real, check_tensor, check_text, require

__all__ = [
    "masked_softmax", "check_mask", "Attention", "DotAttention", "ScaledDotAttention", "GeneralAttention",
    "AdditiveAttention", "LocationAttention", "QueryKeyAttention", "SCORE_FUNCTIONS", "make_attention",
    "require_positive_int", "require_fraction",
]

require_positive_int = partial(check_int, low=1)  # old names, kept for imports: (value, name) -> int
require_fraction = partial(check_real, low=0.0, high=1.0, high_open=True)


def _fit_mask(mask: Tensor, shape: Sequence[int], device: Optional[torch.device] = None) -> Tensor:
    """``mask`` (bool, metadata checked) with the rank of scores of ``shape`` (``[B, S] -> [B, 1, S]``)."""
    check_tensor(mask, "mask (src_pad_mask, True where padding)", kind="bool", device=device)
    m = mask
    while m.dim() < len(shape):
        m = m.unsqueeze(-2)
    require(m.dim() == len(shape) and all(a in (1, b) for a, b in zip(m.shape, shape)),
            f"mask {tuple(mask.shape)} does not fit scores {tuple(shape)}: give [B, S] or [B, T, S]")
    return m


def check_mask(mask: Tensor, shape: Sequence[int], dim: int = -1) -> None:
    """Check a padding mask against scores ``(B, S)`` or ``(B, T, S)`` (``[B, S]`` is used as
    ``[B, 1, S]``), values included: a host read, so once per batch, never per decoding step.

    Raises:
        InputTypeError: ``mask`` is not a bool tensor. ValueError: it does not fit ``shape``, or
            a row is all padding (a sentence without a real token: check that ``src_lens > 0``).
    """
    full = _fit_mask(mask, shape).expand(tuple(shape)).all(dim=dim)
    if full.numel() and bool(full.any()):
        rows = [r[0] if len(r) == 1 else tuple(r) for r in full.nonzero().tolist()][:10]
        raise ValueError(f"attention mask covers every position of row(s) {rows}: every sentence needs at least one "
                         "real (non-padding) token; check that src_lens > 0")


def _softmax(scores: Tensor, mask: Optional[Tensor], dim: int = -1) -> Tensor:
    if mask is not None:
        while mask.dim() < scores.dim():
            mask = mask.unsqueeze(-2)  # [B, S] -> [B, 1, S] against [B, T, S] scores
        scores = scores.masked_fill(mask, float("-inf"))  # exp(-inf) = 0.0 exactly
    return F.softmax(scores, dim=dim)


def masked_softmax(scores: Tensor, mask: Optional[Tensor], dim: int = -1) -> Tensor:
    """Softmax over ``dim`` that gives padded positions exactly zero weight (fp32, fp16, bf16).

    ``softmax(scores with padded positions set to -inf)``; reads the mask once (:func:`check_mask`).

    Args:
        scores: ``[B, S]`` or ``[B, T, S]``, floating point.
        mask: bool, True where padding, ``[B, S]`` (used as ``[B, 1, S]``) or the shape of
            ``scores``; ``None``: nothing masked.
        dim: the dimension to normalise over (the source positions).

    Returns:
        Weights shaped like ``scores``, summing to 1 over real positions, exactly 0.0 at padding.

    Raises:
        InputTypeError: ``scores`` not a float tensor or ``mask`` not a bool tensor.
        ValueError: ``mask`` does not fit ``scores``, or a row is all padding.
    """
    check_tensor(scores, "scores", kind="float")
    if mask is not None:
        check_mask(_fit_mask(mask, scores.shape, scores.device), scores.shape, dim)
    return _softmax(scores, mask, dim)


class Attention(nn.Module):
    """Base class: the four steps shared by every score function.

    A subclass overrides ``_score(query [B, T, Hq], proj_keys [B, S, P]) -> [B, T, S]`` (the dot
    product here), ``_project`` (the key projection, identity here) and :meth:`proj_dim` as needed.

    Args:
        temperature: divide the scores by this before the softmax (finite, > 0; default 1.0).
        query_dim, key_dim: the ``Hq`` / ``Hk`` the module was built for (``None``: any), checked
            by the subclass.

    Raises:
        ValueError: a bad ``temperature`` or size (InputTypeError for a wrong type).
    """

    same_width = False  # the dot products need Hq == Hk
    mask_3d = True  # a [B, T, S] mask is accepted with [B, T, Hq] queries

    def __init__(self, temperature: float = 1.0, query_dim: Optional[int] = None, key_dim: Optional[int] = None):
        super().__init__()
        self.temperature = check_real(temperature, "temperature", low=0.0, low_open=True)
        self.query_dim, self.key_dim = query_dim, key_dim  # checked by the subclasses that have them

    def _project(self, keys: Tensor) -> Tensor:
        return keys

    def _score(self, query: Tensor, proj_keys: Tensor) -> Tensor:
        return torch.bmm(query, proj_keys.transpose(1, 2))  # [B, T, S]: the dot product

    def proj_dim(self, key_width: int) -> int:
        """``P``, the width of :meth:`project_keys`' output for keys of width ``key_width``."""
        return key_width

    def _check_widths(self, query_width: Optional[int], key_width: Optional[int], src_len: int) -> None:
        """The widths (and, for ``location``, source length) the module was built for; ``None``: unknown."""
        name = type(self).__name__
        require(not self.same_width or None in (query_width, key_width) or query_width == key_width,
                f"{name} needs query and keys of the same size, got {query_width} and {key_width}: use 'general'")
        for what, got, want in (("queries", query_width, self.query_dim), ("keys", key_width, self.key_dim)):
            require(None in (got, want) or got == want, f"{name} was built for {what} of width {want}, got {got}")

    def project_keys(self, keys: Tensor) -> Tensor:
        """The step-independent part of the score, once per source batch: ``[B, S, Hk] -> [B, S, P]``.

        Raises:
            InputTypeError: ``keys`` is not a float tensor. ValueError: not ``[B, S, Hk]`` with the
                module's ``key_dim`` (or, for ``location``, ``S > max_src_len``).
        """
        check_tensor(keys, "keys [B, S, Hk]", ndim=3, kind="float")
        self._check_widths(None, keys.size(-1), keys.size(1))
        return self._project(keys)

    def score(self, query: Tensor, proj_keys: Tensor) -> Tensor:
        """Step 1: the scores that go into the softmax (already divided by the temperature).

        Args:
            query: ``[B, Hq]`` or ``[B, T, Hq]``. proj_keys: ``[B, S, P]`` from :meth:`project_keys`.

        Returns:
            ``[B, S]`` or ``[B, T, S]``.

        Raises:
            InputTypeError: a non-float tensor. ValueError: wrong ranks, batch sizes or query width.
        """
        check_tensor(query, "query [B, Hq] or [B, T, Hq]", ndim=(2, 3), kind="float")
        check_tensor(proj_keys, "proj_keys [B, S, P]", shape=(len(query), None, None), kind="float", device=query.device)
        self._check_widths(query.size(-1), None, proj_keys.size(1))  # P is not Hk: no key width to compare
        return self._scores(query, proj_keys)

    def _scores(self, query: Tensor, proj_keys: Tensor) -> Tensor:
        single = query.dim() == 2
        scores = self._score(query.unsqueeze(1) if single else query, proj_keys)  # [B, T, S]
        if self.temperature != 1.0:
            scores = scores / self.temperature
        return scores.squeeze(1) if single else scores

    def check_inputs(self, query: Tensor, keys: Tensor, values=None, mask=None, proj_keys=None) -> None:
        """The checks of :meth:`forward`: shapes, dtypes and devices (metadata only, no value read).

        Raises:
            InputTypeError: a non-tensor, a non-float input, a non-bool mask, dtypes that differ
                from each other or the module's (outside autocast).
            ValueError: a rank, batch size, width, device or mask shape that does not fit; an
                empty batch or source.
        """
        check_tensor(query, "query [B, Hq] or [B, T, Hq]", ndim=(2, 3), kind="float")
        B, dev = query.size(0), query.device
        check_tensor(keys, "keys [B, S, Hk] (B: query's batch size)", shape=(B, None, None), kind="float", device=dev)
        B, S, Hk = keys.shape
        check_tensor(keys if values is None else values, "values", shape=(B, S, None), kind="float", device=dev)
        if proj_keys is not None:
            check_tensor(proj_keys, "proj_keys", shape=(B, S, self.proj_dim(Hk)), kind="float", device=dev)
        require(keys.numel(), f"keys are empty (shape {(B, S, Hk)}): attention needs a sentence, a position, a feature")
        self._check_widths(query.size(-1), Hk, S)
        dtypes = {t.dtype for t in (query, keys, values) if t is not None} | {p.dtype for p in self.parameters()}
        require(len(dtypes) == 1 or torch.is_autocast_enabled(dev.type),
                f"inputs and parameters have different dtypes {sorted(map(str, dtypes))}: convert", InputTypeError)
        if mask is not None:
            _fit_mask(mask, (B, S) if query.dim() == 2 or not self.mask_3d else (B, query.size(1), S), dev)

    def forward(self, query: Tensor, keys: Tensor, values: Optional[Tensor] = None, mask: Optional[Tensor] = None,
                proj_keys: Optional[Tensor] = None) -> tuple[Tensor, Tensor]:
        """Attend from ``query`` over ``keys``: ``(context, weights)`` (shapes in the module docstring).

        ``proj_keys``, when given, is used as is. Besides :meth:`check_inputs` (metadata) it reads
        values once per call; a model's decoder steps call :meth:`attend` instead.

        Raises:
            InputTypeError, ValueError: as :meth:`check_inputs`; ValueError: a mask row that is
                all padding, or NaN/infinite values in the inputs.
        """
        self.check_inputs(query, keys, values, mask, proj_keys)
        finite = all(bool(torch.isfinite(t).all()) for t in (query, keys, values, proj_keys) if t is not None)
        require(finite, "query, keys, values or proj_keys hold NaN or infinite values")
        if mask is not None:
            check_mask(mask, tuple(mask.shape))  # its fit was checked above; here: no row all padding
        return self.attend(query, keys, values, mask, proj_keys)

    def attend(self, query: Tensor, keys: Tensor, values: Optional[Tensor] = None, mask: Optional[Tensor] = None,
               proj_keys: Optional[Tensor] = None) -> tuple[Tensor, Tensor]:
        """:meth:`forward` without checks, for decoder steps of a batch checked once in ``encode``."""
        values = keys if values is None else values
        scores = self._scores(query, self._project(keys) if proj_keys is None else proj_keys)
        weights = _softmax(scores, mask)  # [B, S] or [B, T, S]
        if query.dim() == 2:
            return torch.bmm(weights.unsqueeze(1), values).squeeze(1), weights  # [B, Hv]
        return torch.bmm(weights, values), weights  # [B, T, Hv]

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}" if self.temperature != 1.0 else ""


class DotAttention(Attention):
    """Dot-product score ``h_t . h_s`` (Luong et al. 2015, sec. 3.1, "dot"). No parameters; ``Hq == Hk``.

    E.g. ``h_t = [10, 5, 10]`` against ``[0,1,1], [5,0,1], [1,1,0], [0,5,1]`` scores ``15, 60, 15, 35``.

    Raises:
        ValueError: bad ``temperature``; query and keys of different sizes (in :meth:`forward`).
    """

    same_width = True

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__(temperature)


class ScaledDotAttention(DotAttention):
    """Scaled dot product ``h_t . h_s / sqrt(d)``, ``d = Hk`` (Vaswani et al. 2017, sec. 3.2.1, eq. 1).

    Dividing by ``sqrt(d)`` keeps the spread of the scores from growing with ``d``, so the softmax
    does not saturate. ``temperature`` is an extra divisor. No parameters; ``Hq == Hk``.
    """

    def _score(self, query: Tensor, proj_keys: Tensor) -> Tensor:
        return super()._score(query, proj_keys) / math.sqrt(proj_keys.size(-1))


class GeneralAttention(Attention):
    """General (bilinear) score ``h_t^T W_a h_s`` (Luong et al. 2015, sec. 3.1, "general").

    ``W_a`` is ``nn.Linear(Hk, Hq, bias=False)``; :meth:`project_keys` gives ``W_a h_s``
    ``[B, S, Hq]`` once, so that each step is a dot product.

    Raises:
        ValueError: a size below 1, a bad ``temperature`` (InputTypeError: a wrong type).
    """

    def __init__(self, query_dim: int, key_dim: int, temperature: float = 1.0) -> None:
        super().__init__(temperature, check_int(query_dim, "query_dim", low=1), check_int(key_dim, "key_dim", low=1))
        self.W_a = nn.Linear(key_dim, query_dim, bias=False)

    def proj_dim(self, key_width: int) -> int:
        """``Hq``: the keys are mapped to the query's width."""
        return self.query_dim

    def _project(self, keys: Tensor) -> Tensor:
        return self.W_a(keys)  # W_a h_s: [B, S, Hq]


class AdditiveAttention(Attention):
    """Additive (MLP) score ``v_a^T tanh(W_a h_t + U_a h_s)`` (Bahdanau et al. 2015, appendix A.1.2).

    Bahdanau's ``h_t`` is the previous decoder state ``s_{i-1}``. Luong et al.'s "concat",
    ``v_a^T tanh(W_a [h_t; h_s])`` (sec. 3.1), is the same function with ``W_a`` split into the
    blocks acting on ``h_t`` and ``h_s``. Parameters (``nn.Linear``, no bias): ``W_a [A, Hq]``,
    ``U_a [A, Hk]``, ``v_a [1, A]``. :meth:`project_keys` gives ``U_a h_s`` ``[B, S, A]`` once
    per batch (the costly part); a step adds ``W_a h_t``. The score uses ``proj_keys`` as given,
    so :class:`course_lib.models.BahdanauSeq2Seq` can pass ``U_a h_s + b`` with its own bias.

    Raises:
        ValueError: a size below 1, a bad ``temperature`` (InputTypeError: a wrong type).
    """

    def __init__(self, query_dim: int, key_dim: int, attn_dim: int, temperature: float = 1.0) -> None:
        super().__init__(temperature, check_int(query_dim, "query_dim", low=1), check_int(key_dim, "key_dim", low=1))
        self.W_a = nn.Linear(query_dim, check_int(attn_dim, "attn_dim", low=1), bias=False)
        self.U_a = nn.Linear(key_dim, attn_dim, bias=False)
        self.v_a = nn.Linear(attn_dim, 1, bias=False)

    def proj_dim(self, key_width: int) -> int:
        """``A``: :meth:`project_keys` gives ``U_a h_s``."""
        return self.U_a.out_features

    def _project(self, keys: Tensor) -> Tensor:
        return self.U_a(keys)  # U_a h_s: [B, S, A]

    def _score(self, query: Tensor, proj_keys: Tensor) -> Tensor:
        hidden = torch.tanh(self.W_a(query).unsqueeze(2) + proj_keys.unsqueeze(1))  # [B, T, S, A]
        return self.v_a(hidden).squeeze(-1)  # [B, T, S]


class LocationAttention(Attention):
    """Location-based ``a_t = softmax(W_a h_t)`` from the query alone (Luong et al. 2015, eq. 8).

    ``W_a`` (``nn.Linear(Hq, max_src_len, bias=False)``) gives one score per source *position*;
    the keys serve only for their length ``S`` (the scores are cut to ``S``, padding masked as
    usual). The values are still averaged with these weights.

    Raises:
        ValueError: a size below 1, a bad ``temperature``; ``S > max_src_len`` (when attending).
    """

    def __init__(self, query_dim: int, max_src_len: int, temperature: float = 1.0) -> None:
        super().__init__(temperature, check_int(query_dim, "query_dim", low=1))
        self.max_src_len = check_int(max_src_len, "max_src_len", low=1)
        self.W_a = nn.Linear(query_dim, self.max_src_len, bias=False)

    def _check_widths(self, query_width: Optional[int], key_width: Optional[int], src_len: int) -> None:
        super()._check_widths(query_width, key_width, src_len)
        require(src_len <= self.max_src_len, f"S={src_len} positions but max_src_len={self.max_src_len}: raise max_src_len")

    def _score(self, query: Tensor, proj_keys: Tensor) -> Tensor:
        return self.W_a(query)[..., : proj_keys.size(1)]  # [B, T, S]

    def extra_repr(self) -> str:
        return ", ".join(filter(None, [f"max_src_len={self.max_src_len}", super().extra_repr()]))


class QueryKeyAttention(Attention):
    """Query/key score ``(W_Q h_t) . (W_K h_s)``: Vaswani et al.'s learned projections (sec. 3.2.1)
    **without** the ``1/sqrt(d)`` of :class:`ScaledDotAttention`, as tutorials present it for RNNs.

    Shapes, e.g. 64 sentences of 16 tokens, 1024 units: ``H (64, 16, 1024)``, ``K = H W_K``
    (:meth:`project_keys`), query ``S (64, 1024)``, ``Q = S W_Q``, weights ``softmax(K Q^T)``
    ``(64, 16)``. ``W_Q``, ``W_K``: ``nn.Linear(Hq, A)``, ``nn.Linear(Hk, A)`` without bias.

    Raises:
        ValueError: a size below 1, a bad ``temperature`` (InputTypeError: a wrong type).
    """

    def __init__(self, query_dim: int, key_dim: int, attn_dim: int, temperature: float = 1.0) -> None:
        super().__init__(temperature, check_int(query_dim, "query_dim", low=1), check_int(key_dim, "key_dim", low=1))
        self.W_Q = nn.Linear(query_dim, check_int(attn_dim, "attn_dim", low=1), bias=False)
        self.W_K = nn.Linear(key_dim, attn_dim, bias=False)

    def proj_dim(self, key_width: int) -> int:
        """``A``: :meth:`project_keys` gives ``K = H W_K``."""
        return self.W_K.out_features

    def _project(self, keys: Tensor) -> Tensor:
        return self.W_K(keys)  # [B, S, A]

    def _score(self, query: Tensor, proj_keys: Tensor) -> Tensor:
        return super()._score(self.W_Q(query), proj_keys)


SCORE_FUNCTIONS: dict[str, type[Attention]] = {
    "dot": DotAttention, "scaled_dot": ScaledDotAttention, "general": GeneralAttention,
    "additive": AdditiveAttention, "concat": AdditiveAttention, "location": LocationAttention,
    "query_key": QueryKeyAttention,
}
"""Score-function name -> class. ``"concat"`` (Luong's name) is ``"additive"`` (Bahdanau's)."""


def make_attention(name: str, query_dim: int, key_dim: int, attn_dim: Optional[int] = None,
                   max_src_len: int = 100, temperature: float = 1.0) -> Attention:
    """Build an attention module by score-function name.

    Args:
        name: a key of :data:`SCORE_FUNCTIONS`; case, ``-`` and spaces do not matter.
        query_dim, key_dim: ``Hq``, ``Hk``. attn_dim: ``A`` of additive/concat/query_key
            (default ``key_dim``). max_src_len: for ``location``. temperature: see :class:`Attention`.

    Raises:
        InputTypeError: ``name`` is not a str (or a size not an integer).
        ValueError: an unknown name (the message lists the valid ones); ``dot``/``scaled_dot``
            with ``query_dim != key_dim``; a size below 1 (also one the score ignores); a bad temperature.
    """
    key = check_text(name, "name").strip().lower().replace("-", "_").replace(" ", "_")
    require(key in SCORE_FUNCTIONS, f"unknown score function {name!r}; choose one of {', '.join(SCORE_FUNCTIONS)}")
    query_dim, key_dim, max_src_len = (check_int(v, n, low=1) for n, v in
                                       (("query_dim", query_dim), ("key_dim", key_dim), ("max_src_len", max_src_len)))
    attn_dim = check_int(attn_dim, "attn_dim", low=1, allow_none=True) or key_dim
    if key in ("dot", "scaled_dot"):
        require(query_dim == key_dim, f"{key!r} needs query_dim == key_dim, got {query_dim} and {key_dim}: use 'general'")
        return SCORE_FUNCTIONS[key](temperature=temperature)
    if key == "general":
        return GeneralAttention(query_dim, key_dim, temperature=temperature)
    if key == "location":
        return LocationAttention(query_dim, max_src_len, temperature=temperature)
    return SCORE_FUNCTIONS[key](query_dim, key_dim, attn_dim, temperature=temperature)
