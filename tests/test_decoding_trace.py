"""decode_trace's forced decoding (``prefix``): the decoder stepper's "what if the model had written another word here?"."""

import pytest
import torch

from course_lib.data import EOS
from course_lib.decoding import StepTrace, decode_trace
from course_lib.models.base import Seq2Seq, StepOutput, lengths_to_pad_mask
from tests.test_decoding import tiny_bahdanau, word_vocab


class CountingModel(Seq2Seq):
    """Writes ``prev + 1`` after every word (w4 after <sos>), <eos> after w9: what follows depends on the prefix.

    Its attention puts half its weight on source position ``prev % S`` and spreads the rest.
    """

    has_attention = True

    def __init__(self):
        super().__init__(10, 10)
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def encode(self, src, src_lens):
        return {"enc_outputs": src.float().unsqueeze(-1), "src_pad_mask": lengths_to_pad_mask(src_lens, src.size(1))}

    def init_state(self, enc):
        return {"h": torch.zeros(enc["enc_outputs"].size(0), 1)}

    def decode_step(self, prev_tokens, state, enc):
        nxt = torch.where(prev_tokens == self.sos_id, torch.full_like(prev_tokens, 4), prev_tokens + 1)
        nxt = torch.where(prev_tokens >= 9, torch.full_like(prev_tokens, self.eos_id), nxt)
        logits = torch.nn.functional.one_hot(nxt, 10).float() * 5.0
        S = enc["enc_outputs"].size(1)
        weights = torch.nn.functional.one_hot(prev_tokens % S, S).float() * 0.5 + 0.5 / S
        return StepOutput(logits, state, weights)


def _fields(trace):
    return [(s.step, s.prefix, s.token, s.topk_tokens, s.topk_probs, s.attn_weights) for s in trace]


def test_empty_prefix_equals_todays_trace():
    model, vocab = tiny_bahdanau(), word_vocab()
    plain = decode_trace(model, ["w4", "w5", "w6"], vocab, vocab, k=3, max_len=8)
    for prefix in ([], None):
        again = decode_trace(model, ["w4", "w5", "w6"], vocab, vocab, k=3, max_len=8, prefix=prefix)
        assert _fields(again) == _fields(plain)
        assert not any(s.forced for s in again)


def test_forcing_the_greedy_tokens_reproduces_the_greedy_trace():
    model, vocab = tiny_bahdanau(), word_vocab()
    plain = decode_trace(model, ["w4", "w5", "w6"], vocab, vocab, k=3, max_len=8)
    for n in (1, 3, len(plain)):
        forced = decode_trace(model, ["w4", "w5", "w6"], vocab, vocab, k=3, max_len=8,
                              prefix=[s.token for s in plain[:n]])
        assert _fields(forced) == _fields(plain)
        assert [s.forced for s in forced] == [t < n for t in range(len(plain))]


def test_forcing_another_first_word_changes_the_rest():
    model, vocab = CountingModel(), word_vocab()
    plain = decode_trace(model, ["w4", "w5", "w6"], vocab, vocab, k=2)
    assert [s.token for s in plain] == ["w4", "w5", "w6", "w7", "w8", "w9", EOS]
    trace = decode_trace(model, ["w4", "w5", "w6"], vocab, vocab, k=2, prefix=["w7"])
    assert [s.token for s in trace] == ["w7", "w8", "w9", EOS]
    assert [s.forced for s in trace] == [True, False, False, False]
    assert trace[0].topk_tokens[0] == "w4", "a forced step still shows the model's own top-k"
    assert trace[1].prefix == ["w7"]
    assert trace[1].attn_weights != plain[1].attn_weights, "the attention follows the forced word"
    for s in trace:
        assert len(s.attn_weights) == 4 and sum(s.attn_weights) == pytest.approx(1.0)


def test_forcing_on_a_trained_shape_model_keeps_attention_a_distribution():
    model, vocab = tiny_bahdanau(), word_vocab()
    plain = decode_trace(model, ["w4", "w5", "w6"], vocab, vocab, k=3, max_len=6)
    other = next(t for t in plain[0].topk_tokens if t != plain[0].token)
    trace = decode_trace(model, ["w4", "w5", "w6"], vocab, vocab, k=3, max_len=6, prefix=[other])
    assert trace[0].token == other and trace[0].forced and not trace[1].forced
    assert trace[0].topk_tokens == plain[0].topk_tokens, "step 0 sees the same input either way"
    for s in trace:
        assert len(s.attn_weights) == 4 and sum(s.attn_weights) == pytest.approx(1.0, abs=1e-5)


def test_forced_eos_ends_the_trace_and_prefix_longer_than_default():
    model, vocab = CountingModel(), word_vocab()
    trace = decode_trace(model, ["w4"], vocab, vocab, prefix=["w9", EOS])
    assert [s.token for s in trace] == ["w9", EOS] and all(s.forced for s in trace)
    long_prefix = ["w4"] * 20  # longer than default_max_len = 2 * 2 + 10: max_len grows to hold it
    trace = decode_trace(model, ["w4"], vocab, vocab, prefix=long_prefix)
    assert [s.token for s in trace] == long_prefix
    trace = decode_trace(model, ["w4"], vocab, vocab, max_len=22, prefix=long_prefix)
    assert [s.token for s in trace] == long_prefix + ["w5", "w6"] and not trace[-1].forced


def test_bad_prefix_is_refused_naming_the_token():
    model, vocab = CountingModel(), word_vocab()
    with pytest.raises(ValueError, match="'Hund'"):
        decode_trace(model, ["w4"], vocab, vocab, prefix=["w4", "Hund"])
    with pytest.raises(ValueError, match="<eos>"):
        decode_trace(model, ["w4"], vocab, vocab, prefix=[EOS, "w4"])
    with pytest.raises(TypeError):
        decode_trace(model, ["w4"], vocab, vocab, prefix="w4 w5")
    with pytest.raises(TypeError):
        decode_trace(model, ["w4"], vocab, vocab, prefix=["w4", 5])
    with pytest.raises(ValueError, match="max_len"):
        decode_trace(model, ["w4"], vocab, vocab, max_len=1, prefix=["w4", "w5"])


def test_step_trace_built_by_hand_is_not_forced():
    assert StepTrace(0, [], "a", ["a"], [1.0], None).forced is False
