"""The decoder stepper's data: every step of a greedy (or partly forced) decoding of one sentence."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence

import torch

from ..checks import check_int, check_tokens
from ..data import EOS
from ..models.base import Seq2Seq
from .greedy import _default_max_len, _greedy
from .translate import check_model_vocabs, _encode_sources


@dataclass
class StepTrace:
    """One decoder step, for the stepper widgets.

    Attributes:
        step: 0-based position. prefix: target tokens before this step. token: the word taken.
        topk_tokens / topk_probs: the model's ``k`` most probable next words and their probabilities.
        attn_weights: ``[S]`` or ``None``. forced: True where ``prefix`` of :func:`decode_trace` forced ``token``.
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
    """Greedy-decode one tokenised sentence; one :class:`StepTrace` per generated token (the decoder stepper's data).

    Runs the loop of :func:`greedy_decode`, so the tokens are exactly greedy search's. ``prefix`` forces the target
    tokens of steps ``0 .. len(prefix)-1`` (``<eos>`` only last; forced decoding, teacher forcing at inference:
    "what if the model had written another word here?"); greedy search continues from there.

    ``src_tokens`` come without ``<eos>`` (it is appended); ``k >= 1`` next-word candidates are kept per step;
    ``max_len`` defaults to :func:`default_max_len` (at least ``len(prefix)``).

    Raises:
        InputTypeError: ``src_tokens``/``prefix`` a ``str`` or holding non-strings; not a ``Seq2Seq``.
        ValueError: no source tokens; ``k < 1``; ``max_len < max(1, len(prefix))``; vocabularies that
            do not match the model; a prefix token not in ``tgt_vocab`` or a mid-prefix ``<eos>``.
    """
    src_tokens = check_tokens(src_tokens, "src_tokens", allow_empty=False)
    k = check_int(k, "k", low=1)
    prefix = check_tokens([] if prefix is None else prefix, "prefix")
    max_len = check_int(max_len, "max_len", low=max(1, len(prefix)), allow_none=True)
    check_model_vocabs(model, src_vocab, tgt_vocab)
    index = {t: i for i, t in enumerate(tgt_vocab.itos)}
    bad = [t for i, t in enumerate(prefix) if t not in index or (t == EOS and i < len(prefix) - 1)]
    if bad:
        raise ValueError(f"cannot force {bad[0]!r}: not in tgt_vocab (pick from topk_tokens), or <eos> before the end")
    src, src_lens = _encode_sources([src_tokens], src_vocab, model.device)
    max_len = max(_default_max_len(src_lens), len(prefix)) if max_len is None else max_len
    forced = torch.tensor([[index[t] for t in prefix]], dtype=torch.long, device=src.device) if prefix else None
    out = _greedy(model, src, src_lens, max_len, k, forced)
    itos, n = tgt_vocab.itos, int(out.lengths[0])
    tokens = [itos[i] for i in out.tokens[0, :n].tolist()]
    attn = [None] * n if out.attn_weights is None else out.attn_weights[0, :n].float().cpu().tolist()
    return [StepTrace(t, tokens[:t], tokens[t], [itos[i] for i in out.topk_ids[0, t].tolist()],
                      out.topk_probs[0, t].tolist(), attn[t], t < len(prefix)) for t in range(n)]
