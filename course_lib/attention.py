"""Attention: every score function of the course behind one interface.

All modules here share one calling convention (batch-first)::

    context, weights = attn(query, keys, values=None, mask=None, proj_keys=None, check=True)

======================  =========================  =====================================
argument                shape                      meaning
======================  =========================  =====================================
``query``               ``[B, Hq]`` or             decoder state(s): one step, or all
                        ``[B, T, Hq]``             ``T`` target steps at once
``keys``                ``[B, S, Hk]``             encoder outputs (``enc_outputs``)
``values``              ``[B, S, Hv]``             what gets averaged; defaults to ``keys``
``mask``                ``[B, S]`` or              ``src_pad_mask``: bool, **True where
                        ``[B, T, S]``              padding**; padded positions get weight 0
``proj_keys``           ``[B, S, P]``              the output of :meth:`Attention.project_keys`
``check``               bool                       validate the arguments (default); see below
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
                                                                 (given after eq. 8)
``query_key``       ``(W_Q h_t) . (W_K h_s)``                    Vaswani et al. 2017, sec.
                                                                 3.2.1, without the scaling
==================  ===========================================  ============================

Every module also takes ``temperature`` (default 1.0): the scores are divided by it
before the softmax. Values above 1 soften the distribution, values below 1 sharpen it.
No module has a bias, as in the papers.

The step-independent part of a score (``W_a h_s``, ``U_a h_s``, ``W_K h_s``) depends only on
the source sentence. :meth:`Attention.project_keys` computes it; a decoder calls it once per
batch of source sentences and passes the result as ``proj_keys=`` at every decoding step.

**Checked and unchecked calls.** By default (``check=True``) a call validates everything
(:meth:`Attention.check_inputs`): ranks, batch sizes, feature widths, dtypes, finiteness, and
the mask (:func:`check_mask`: bool, fitting shape, no row that is all padding). Some of these
checks read tensor values on the host, which on a GPU stops the host until the device has
caught up. A decoder validates its ``src_pad_mask`` once per batch (the models do it in
``encode``, through :func:`course_lib.utils.lengths_to_pad_mask`) and then calls the module
with ``check=False`` at every step: no validation, no host--device synchronisation.

Nothing here keeps the weights as module state: they are returned.

References:
    Bahdanau, Cho, Bengio (2015). Neural Machine Translation by Jointly Learning to Align
    and Translate. ICLR. (Appendix A.1.2, the alignment model.)
    Luong, Pham, Manning (2015). Effective Approaches to Attention-based Neural Machine
    Translation. EMNLP. (Section 3.1: eq. 7, the alignment; eq. 8, the score functions;
    the location-based function right after eq. 8.)
    Vaswani et al. (2017). Attention Is All You Need. NeurIPS. (Section 3.2.1, eq. 1.)
"""

from __future__ import annotations

import math
import numbers
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "masked_softmax",
    "check_mask",
    "Attention",
    "DotAttention",
    "ScaledDotAttention",
    "GeneralAttention",
    "AdditiveAttention",
    "LocationAttention",
    "QueryKeyAttention",
    "SCORE_FUNCTIONS",
    "make_attention",
    "require_positive_int",
    "require_fraction",
]


# --- argument checks (shared with course_lib.models) ----------------------------------------

def require_positive_int(value, name: str) -> int:
    """Return ``value`` as an ``int`` if it is a whole number ``>= 1``.

    Raises:
        ValueError: ``value`` is a bool, not an integer (``2.0`` is refused too), or below 1;
            the message names ``name``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def require_fraction(value, name: str) -> float:
    """Return ``value`` as a ``float`` if it is a number in ``[0, 1)`` (a dropout rate).

    Raises:
        ValueError: not a real number (a bool is refused), NaN, or outside ``[0, 1)``; the
            message names ``name``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= float(value) < 1.0:
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
    return float(value)


def _require_temperature(value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"temperature must be a finite positive number, got {value!r}")
    return float(value)


def _shape(x) -> str:
    return str(tuple(x.shape)) if isinstance(x, Tensor) else type(x).__name__


def check_mask(mask: Tensor, shape: Sequence[int], dim: int = -1) -> None:
    """Validate a padding mask against scores of shape ``shape``.

    This is the only place where the attention code reads tensor *values* on the host
    (``bool(...)``): on a GPU it synchronises host and device. Models call it (through
    :func:`course_lib.utils.lengths_to_pad_mask`, which checks the lengths the mask is made
    of) once per batch; per-step calls pass ``check=False`` and never reach it.

    Args:
        mask: bool, **True where padding**; ``[B, S]`` or ``[B, T, S]`` (``[B, S]`` is used
            against ``[B, T, S]`` scores as ``[B, 1, S]``); a size of 1 broadcasts.
        shape: the shape of the scores, ``(B, S)`` or ``(B, T, S)``.
        dim: the dimension the softmax normalises over (the source positions).

    Raises:
        TypeError: ``mask`` is not a bool tensor (the polarity would be ambiguous).
        ValueError: the mask does not fit ``shape``; or some row is padding only (a
            sentence with no real token: check that ``src_lens > 0``).
    """
    if not isinstance(mask, Tensor) or mask.dtype != torch.bool:
        what = f"dtype {mask.dtype}" if isinstance(mask, Tensor) else type(mask).__name__
        raise TypeError(f"mask must be a bool tensor with True where padding (src_pad_mask), got {what}")
    shape = tuple(shape)
    m = mask
    while m.dim() < len(shape):
        m = m.unsqueeze(-2)  # [B, S] -> [B, 1, S] against [B, T, S] scores
    if m.dim() != len(shape) or any(a not in (1, b) for a, b in zip(m.shape, shape)):
        raise ValueError(
            f"mask of shape {tuple(mask.shape)} does not fit scores of shape {shape}; "
            "expected [B, S] or [B, T, S] with True where padding"
        )
    if m.numel() == 0:
        return
    fully_masked = m.expand(shape).all(dim=dim)
    if bool(fully_masked.any()):  # the host synchronisation
        rows = fully_masked.nonzero().tolist()
        shown = [r[0] if len(r) == 1 else tuple(r) for r in rows[:10]]
        more = f" (and {len(rows) - 10} more)" if len(rows) > 10 else ""
        raise ValueError(
            f"attention mask covers every position of row(s) {shown}{more}: "
            "every sentence needs at least one real (non-padding) token; check that src_lens > 0"
        )


def masked_softmax(scores: Tensor, mask: Optional[Tensor], dim: int = -1, check: bool = True) -> Tensor:
    """Softmax over ``dim`` that gives padded positions exactly zero weight.

    ``weights = softmax(scores with padded positions set to -inf)``, so that
    ``exp(-inf) = 0.0`` exactly, in fp32, fp16 and bf16 alike (also under autocast).

    Args:
        scores: ``[B, S]`` or ``[B, T, S]`` (any float dtype).
        mask: bool, **True where padding** (``src_pad_mask``), broadcastable to ``scores``.
            A ``[B, S]`` mask is used against ``[B, T, S]`` scores by unsqueezing it to
            ``[B, 1, S]``. ``None`` means no position is masked.
        dim: the dimension to normalise over (the source positions; default last).
        check: validate ``mask`` with :func:`check_mask` (default). ``False`` is the fast
            path for a mask validated earlier: no host--device synchronisation; a row that
            is padding only then gives NaN instead of an error.

    Returns:
        Weights with the shape of ``scores``: non-negative, summing to 1 over the real
        positions of every row, exactly ``0.0`` where ``mask`` is True.

    Raises:
        TypeError: ``scores`` is not a floating-point tensor; ``mask`` is not bool.
        ValueError: ``mask`` cannot be broadcast to ``scores``; or some row is masked
            entirely (only with ``check=True``).
    """
    if check and (not isinstance(scores, Tensor) or not scores.is_floating_point()):
        raise TypeError(f"scores must be a floating-point tensor, got {_shape(scores)}"
                        + (f" of dtype {scores.dtype}" if isinstance(scores, Tensor) else ""))
    if mask is None:
        return F.softmax(scores, dim=dim)
    if check:
        check_mask(mask, scores.shape, dim)
    while mask.dim() < scores.dim():
        mask = mask.unsqueeze(-2)  # [B, S] -> [B, 1, S] against [B, T, S] scores
    weights = F.softmax(scores.masked_fill(mask, float("-inf")), dim=dim)
    # exp(-inf) is already 0.0; with check=True the fill also keeps NaN out of checked rows.
    return weights.masked_fill(mask, 0.0) if check else weights


class Attention(nn.Module):
    """Base class: the four steps (score, softmax, weight, sum) shared by every variant.

    Subclasses implement ``_score(query3, proj_keys) -> [B, T, S]`` for a 3-D query and
    may override :meth:`_project` (the key projection) and :meth:`proj_dim`.
    :meth:`score` handles 2-D queries and the temperature; :meth:`forward` does the masked
    softmax and the weighted sum.

    Args:
        temperature: the scores are divided by it before the softmax (default 1.0).
            Higher values give a softer (higher-entropy) distribution.
        query_dim: ``Hq`` the module expects (``None``: any, e.g. the dot product).
        key_dim: ``Hk`` the module expects (``None``: any).

    Raises:
        ValueError: ``temperature`` is not a finite positive number; a size is not a
            positive integer.
    """

    def __init__(self, temperature: float = 1.0, query_dim: Optional[int] = None,
                 key_dim: Optional[int] = None) -> None:
        super().__init__()
        self.temperature = _require_temperature(temperature)
        self.query_dim = None if query_dim is None else require_positive_int(query_dim, "query_dim")
        self.key_dim = None if key_dim is None else require_positive_int(key_dim, "key_dim")

    # --- what subclasses provide ---------------------------------------------------------
    def _project(self, keys: Tensor) -> Tensor:
        return keys

    def _score(self, query: Tensor, proj_keys: Tensor) -> Tensor:  # pragma: no cover
        raise NotImplementedError

    def proj_dim(self, key_width: int) -> int:
        """``P``, the width of :meth:`project_keys`' output for keys of width ``key_width``."""
        return key_width

    def _check_widths(self, query: Tensor, keys: Tensor) -> None:
        """Feature widths of query (``[..., Hq]``) and keys (``[..., Hk]``) against the module."""
        if self.query_dim is not None and query.size(-1) != self.query_dim:
            raise ValueError(f"{type(self).__name__} was built for queries of width {self.query_dim} "
                             f"(query_dim) but got query of shape {tuple(query.shape)}")
        if self.key_dim is not None and keys.size(-1) != self.key_dim:
            raise ValueError(f"{type(self).__name__} was built for keys of width {self.key_dim} "
                             f"(key_dim) but got keys of shape {tuple(keys.shape)}")

    # --- the interface -------------------------------------------------------------------
    def project_keys(self, keys: Tensor) -> Tensor:
        """The step-independent part of the score, computed once per source sentence.

        Args:
            keys: ``[B, S, Hk]`` encoder outputs.

        Returns:
            The projected keys ``[B, S, P]`` (``P = proj_dim(Hk)``; the keys themselves for
            the parameter-free scores); pass them to :meth:`forward` as ``proj_keys=``.

        Raises:
            TypeError: ``keys`` is not a floating-point tensor.
            ValueError: ``keys`` is not ``[B, S, Hk]`` with ``Hk`` the module's ``key_dim``.
        """
        self._check_tensor(keys, "keys", (3,), "[B, S, Hk]")
        if self.key_dim is not None and keys.size(-1) != self.key_dim:
            raise ValueError(f"{type(self).__name__} was built for keys of width {self.key_dim} "
                             f"(key_dim) but got keys of shape {tuple(keys.shape)}")
        return self._project(keys)

    def score(self, query: Tensor, proj_keys: Tensor) -> Tensor:
        """Step 1: the scores that go into the softmax (already divided by the temperature).

        Args:
            query: ``[B, Hq]`` (one step) or ``[B, T, Hq]`` (all steps).
            proj_keys: ``[B, S, P]``, the output of :meth:`project_keys`.

        Returns:
            ``[B, S]`` for a 2-D query, ``[B, T, S]`` for a 3-D query.

        Raises:
            TypeError: a non-float tensor. ValueError: wrong ranks, batch sizes or widths.
        """
        self._check_tensor(query, "query", (2, 3), "[B, Hq] or [B, T, Hq]")
        self._check_tensor(proj_keys, "proj_keys", (3,), "[B, S, P]")
        if query.size(0) != proj_keys.size(0):
            raise ValueError(f"query has batch size {query.size(0)} but proj_keys have {proj_keys.size(0)}")
        if self.query_dim is not None and query.size(-1) != self.query_dim:
            raise ValueError(f"{type(self).__name__} was built for queries of width {self.query_dim} "
                             f"(query_dim) but got query of shape {tuple(query.shape)}")
        return self._scores(query, proj_keys)

    def _scores(self, query: Tensor, proj_keys: Tensor) -> Tensor:
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
        values: Optional[Tensor] = None,
        mask: Optional[Tensor] = None,
        proj_keys: Optional[Tensor] = None,
        check: bool = True,
    ) -> tuple[Tensor, Tensor]:
        """Attend from ``query`` over ``keys`` and return ``(context, weights)``.

        Args:
            query: ``[B, Hq]`` (one decoder step) or ``[B, T, Hq]`` (all steps at once).
            keys: ``[B, S, Hk]`` encoder outputs.
            values: ``[B, S, Hv]``; defaults to ``keys``.
            mask: bool ``[B, S]`` or ``[B, T, S]``, True where padding (``src_pad_mask``).
            proj_keys: ``self.project_keys(keys)`` computed earlier; when given it is used
                as is and ``project_keys`` is not called again.
            check: validate everything first (:meth:`check_inputs`, default). ``False`` is
                the per-step fast path for arguments validated once per batch: no checks and
                no host--device synchronisation (wrong input then fails in torch, or not at all).

        Returns:
            ``context``: ``[B, Hv]`` or ``[B, T, Hv]``, the weighted sum of the values;
            ``weights``: ``[B, S]`` or ``[B, T, S]``, exactly 0.0 at padded positions.

        Raises:
            ValueError: with ``check=True``: wrong ranks, batch sizes, feature widths or
                devices, an empty batch or source, NaN or infinite inputs, a mask that does
                not fit, or a row whose positions are all padding.
            TypeError: with ``check=True``: a non-tensor or non-float input, a mask that is
                not bool, dtypes that differ (outside autocast).
        """
        if values is None:
            values = keys
        if check:
            self.check_inputs(query, keys, values, mask, proj_keys)
        if proj_keys is None:
            proj_keys = self._project(keys)
        scores = self._scores(query, proj_keys)  # [B, S] or [B, T, S]
        weights = masked_softmax(scores, mask, dim=-1, check=False)  # the mask was checked above
        if query.dim() == 2:
            context = torch.bmm(weights.unsqueeze(1), values).squeeze(1)  # [B, Hv]
        else:
            context = torch.bmm(weights, values)  # [B, T, Hv]
        return context, weights

    # --- validation ----------------------------------------------------------------------
    @staticmethod
    def _check_tensor(x, name: str, ranks: tuple, spec: str) -> None:
        if not isinstance(x, Tensor):
            raise TypeError(f"{name} must be a tensor {spec}, got {type(x).__name__}")
        if not x.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor {spec}, got dtype {x.dtype}")
        if x.dim() not in ranks:
            raise ValueError(f"{name} must be {spec}, got shape {tuple(x.shape)}")
        if x.numel() == 0:
            raise ValueError(f"{name} is empty (shape {tuple(x.shape)}): attention needs at least one "
                             "sentence, one source position and one feature")

    def check_inputs(self, query: Tensor, keys: Tensor, values: Optional[Tensor] = None,
                     mask: Optional[Tensor] = None, proj_keys: Optional[Tensor] = None) -> None:
        """Validate the arguments of :meth:`forward` (what ``check=True`` does).

        Raises:
            TypeError, ValueError: as listed in :meth:`forward`.
        """
        values = keys if values is None else values
        self._check_tensor(query, "query", (2, 3), "[B, Hq] or [B, T, Hq]")
        self._check_tensor(keys, "keys", (3,), "[B, S, Hk]")
        self._check_tensor(values, "values", (3,), "[B, S, Hv]")
        B, S = keys.shape[:2]
        if query.size(0) != B:
            raise ValueError(f"query has batch size {query.size(0)} but keys have {B} "
                             f"(query {tuple(query.shape)}, keys {tuple(keys.shape)})")
        if values.shape[:2] != keys.shape[:2]:
            raise ValueError(f"values must be [B, S, Hv] with the B and S of keys {(B, S)}, "
                             f"got shape {tuple(values.shape)}")
        self._check_widths(query, keys)
        tensors = [query, keys, values]
        if proj_keys is not None:
            self._check_tensor(proj_keys, "proj_keys", (3,), "[B, S, P]")
            want = (B, S, self.proj_dim(keys.size(-1)))
            if tuple(proj_keys.shape) != want:
                raise ValueError(f"proj_keys must be project_keys(keys), of shape {want}, "
                                 f"got {tuple(proj_keys.shape)}")
            tensors.append(proj_keys)
        if len({t.device for t in tensors}) > 1 or (mask is not None and isinstance(mask, Tensor)
                                                    and mask.device != keys.device):
            raise ValueError("query, keys, values, proj_keys and mask must be on one device, got "
                             f"{sorted({str(t.device) for t in tensors})}")
        dtypes = {t.dtype for t in tensors} | {p.dtype for p in self.parameters()}
        if len(dtypes) > 1 and not torch.is_autocast_enabled(keys.device.type):
            raise TypeError(f"inputs and module parameters have different dtypes {sorted(map(str, dtypes))}; "
                            "convert them to one (e.g. .float()) or run under torch.autocast")
        if mask is not None:
            scores_shape = (B, S) if query.dim() == 2 else (B, query.size(1), S)
            check_mask(mask, scores_shape)
        if not all(bool(torch.isfinite(t).all()) for t in tensors):
            raise ValueError("query, keys, values or proj_keys hold NaN or infinite values")

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}" if self.temperature != 1.0 else ""


class _SameWidth:
    """Mixin: the score needs ``Hq == Hk`` (the dot products)."""

    def _check_widths(self, query: Tensor, keys: Tensor) -> None:
        if query.size(-1) != keys.size(-1):
            raise ValueError(
                f"{type(self).__name__} needs query and keys of the same size, got {query.size(-1)} and "
                f"{keys.size(-1)}; use 'general', 'additive' or 'query_key' for different sizes"
            )


class DotAttention(_SameWidth, Attention):
    """Dot-product score: ``score(h_t, h_s) = h_t . h_s`` (divided by ``temperature``).

    Luong et al. 2015, eq. 8 ("dot"). No parameters. ``Hq`` must equal ``Hk``.

    Shapes: query ``[B, Hq]`` / ``[B, T, Hq]``, keys ``[B, S, Hq]`` -> scores ``[B, S]`` /
    ``[B, T, S]``. Example (the course's numeric example): ``h_t = [10, 5, 10]`` against
    ``[0,1,1], [5,0,1], [1,1,0], [0,5,1]`` scores ``15, 60, 15, 35``.

    Args:
        temperature: divide the scores by this before the softmax (default 1.0).

    Raises:
        ValueError: bad ``temperature``; query and keys differ in size (in :meth:`forward`).
    """

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__(temperature)

    def _score(self, query: Tensor, proj_keys: Tensor) -> Tensor:
        return torch.bmm(query, proj_keys.transpose(1, 2))  # [B, T, S]


class ScaledDotAttention(_SameWidth, Attention):
    """Scaled dot product: ``score(h_t, h_s) = h_t . h_s / sqrt(d)``, ``d = Hk``.

    Vaswani et al. 2017, section 3.2.1, eq. 1. Dividing by ``sqrt(d)`` keeps the scores'
    spread roughly independent of the vector size, so the softmax does not saturate for
    large ``d``. No parameters. ``Hq`` must equal ``Hk``.

    Args:
        temperature: an extra divisor on top of ``sqrt(d)`` (default 1.0).

    Raises:
        ValueError: bad ``temperature``; query and keys differ in size (in :meth:`forward`).
    """

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__(temperature)

    def _score(self, query: Tensor, proj_keys: Tensor) -> Tensor:
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

    Raises:
        ValueError: a size that is not a positive integer; bad ``temperature``.
    """

    def __init__(self, query_dim: int, key_dim: int, temperature: float = 1.0) -> None:
        super().__init__(temperature, require_positive_int(query_dim, "query_dim"), require_positive_int(key_dim, "key_dim"))
        self.W_a = nn.Linear(key_dim, query_dim, bias=False)

    def proj_dim(self, key_width: int) -> int:
        """``Hq``: :meth:`project_keys` maps keys to the query's width."""
        return self.query_dim

    def _project(self, keys: Tensor) -> Tensor:
        return self.W_a(keys)  # W_a h_s: [B, S, Hk] -> [B, S, Hq]

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

    The score uses ``proj_keys`` as given, so a caller may add a constant vector to them:
    :class:`course_lib.models.BahdanauSeq2Seq` passes ``U_a h_s + b`` with its own bias
    ``b`` (not in the paper; there for parameter parity with a public tutorial).

    Args:
        query_dim: ``Hq``.
        key_dim: ``Hk``.
        attn_dim: ``A``, the size of the hidden layer of the alignment model.
        temperature: divide the scores by this before the softmax (default 1.0).

    Raises:
        ValueError: a size that is not a positive integer; bad ``temperature``.
    """

    def __init__(self, query_dim: int, key_dim: int, attn_dim: int, temperature: float = 1.0) -> None:
        super().__init__(temperature, require_positive_int(query_dim, "query_dim"), require_positive_int(key_dim, "key_dim"))
        attn_dim = require_positive_int(attn_dim, "attn_dim")
        self.W_a = nn.Linear(query_dim, attn_dim, bias=False)
        self.U_a = nn.Linear(key_dim, attn_dim, bias=False)
        self.v_a = nn.Linear(attn_dim, 1, bias=False)

    def proj_dim(self, key_width: int) -> int:
        """``A``: :meth:`project_keys` gives ``U_a h_s``."""
        return self.U_a.out_features

    def _project(self, keys: Tensor) -> Tensor:
        return self.U_a(keys)  # U_a h_s: [B, S, Hk] -> [B, S, A]

    def _score(self, query: Tensor, proj_keys: Tensor) -> Tensor:
        q = self.W_a(query)  # [B, T, A]
        hidden = torch.tanh(q.unsqueeze(2) + proj_keys.unsqueeze(1))  # [B, T, S, A]
        return self.v_a(hidden).squeeze(-1)  # [B, T, S]


class LocationAttention(Attention):
    """Location-based attention: ``a_t = softmax(W_a h_t)``, computed from the query alone.

    Luong et al. 2015, sec. 3.1: the location-based function, given right after the score
    functions of eq. 8. The scores do not look at the encoder states at all: ``W_a``
    (``[max_src_len, Hq]``, ``nn.Linear`` without bias) gives one score per source
    *position*. The keys are used only for their length ``S``: the scores are cut to the
    first ``S`` positions, and padding is masked as usual. The values are still averaged
    with these weights.

    Args:
        query_dim: ``Hq``.
        max_src_len: the longest source sentence the module can attend over.
        temperature: divide the scores by this before the softmax (default 1.0).

    Raises:
        ValueError: a size that is not a positive integer; bad ``temperature``;
            ``S > max_src_len`` (in :meth:`forward` and :meth:`score`).
    """

    def __init__(self, query_dim: int, max_src_len: int, temperature: float = 1.0) -> None:
        super().__init__(temperature, require_positive_int(query_dim, "query_dim"))
        self.max_src_len = require_positive_int(max_src_len, "max_src_len")
        self.W_a = nn.Linear(query_dim, self.max_src_len, bias=False)

    def _check_widths(self, query: Tensor, keys: Tensor) -> None:
        super()._check_widths(query, keys)
        self._check_length(keys.size(1))

    def _check_length(self, S: int) -> None:
        if S > self.max_src_len:
            raise ValueError(
                f"LocationAttention was built for at most {self.max_src_len} source positions but "
                f"got S={S}; raise max_src_len (or filter longer sentences out)"
            )

    def project_keys(self, keys: Tensor) -> Tensor:
        """The keys themselves (the score ignores their contents); refuses ``S > max_src_len``
        (ValueError), so that a model that projects its keys once per batch checks ``S`` there."""
        if isinstance(keys, Tensor) and keys.dim() == 3:
            self._check_length(keys.size(1))
        return super().project_keys(keys)

    def score(self, query: Tensor, proj_keys: Tensor) -> Tensor:
        """As :meth:`Attention.score`; also refuses ``S > max_src_len`` (ValueError)."""
        if isinstance(proj_keys, Tensor) and proj_keys.dim() == 3:
            self._check_length(proj_keys.size(1))
        return super().score(query, proj_keys)

    def _score(self, query: Tensor, proj_keys: Tensor) -> Tensor:
        return self.W_a(query)[..., : proj_keys.size(1)]  # [B, T, S]

    def extra_repr(self) -> str:
        extra = super().extra_repr()
        return f"max_src_len={self.max_src_len}" + (f", {extra}" if extra else "")


class QueryKeyAttention(Attention):
    """Query/key attention with trainable ``W_Q`` and ``W_K``: ``score = (W_Q h_t) . (W_K h_s)``.

    The query/key formulation of Vaswani et al. 2017 (sec. 3.2.1: queries and keys are
    learned linear projections, the score is their dot product) **without** the ``1/sqrt(d)``
    scaling of :class:`ScaledDotAttention`, as many tutorials present it for recurrent
    models. Example shapes, a batch of 64 sentences of 16 tokens and 1024 hidden units::

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

    Raises:
        ValueError: a size that is not a positive integer; bad ``temperature``.
    """

    def __init__(self, query_dim: int, key_dim: int, attn_dim: int, temperature: float = 1.0) -> None:
        super().__init__(temperature, require_positive_int(query_dim, "query_dim"), require_positive_int(key_dim, "key_dim"))
        attn_dim = require_positive_int(attn_dim, "attn_dim")
        self.W_Q = nn.Linear(query_dim, attn_dim, bias=False)
        self.W_K = nn.Linear(key_dim, attn_dim, bias=False)

    def proj_dim(self, key_width: int) -> int:
        """``A``: :meth:`project_keys` gives ``K = H W_K``."""
        return self.W_K.out_features

    def _project(self, keys: Tensor) -> Tensor:
        return self.W_K(keys)  # K = H W_K: [B, S, Hk] -> [B, S, A]

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
    attn_dim: Optional[int] = None,
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
        TypeError: ``name`` is not a str.
        ValueError: unknown name (the message lists the valid ones); ``dot`` or
            ``scaled_dot`` with ``query_dim != key_dim``; a size that is not a positive
            integer (also for the sizes a score function ignores); bad ``temperature``.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str naming a score function, got {type(name).__name__}")
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    if key not in SCORE_FUNCTIONS:
        raise ValueError(f"unknown score function {name!r}; choose one of {', '.join(SCORE_FUNCTIONS)}")
    query_dim = require_positive_int(query_dim, "query_dim")
    key_dim = require_positive_int(key_dim, "key_dim")
    attn_dim = key_dim if attn_dim is None else require_positive_int(attn_dim, "attn_dim")
    max_src_len = require_positive_int(max_src_len, "max_src_len")
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
    return SCORE_FUNCTIONS[key](query_dim, key_dim, attn_dim, temperature=temperature)
