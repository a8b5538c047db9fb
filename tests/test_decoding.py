import math

import pytest
import torch

from course_lib.data import EOS, SPECIALS, TranslationDataset, Vocab
from course_lib.decoding import (Translation, beam_search, decode_trace, greedy_decode, translate,
                                 translate_dataset)
from course_lib.models import BahdanauConfig, BahdanauSeq2Seq, VanillaConfig, VanillaSeq2Seq
from course_lib.models.base import Seq2Seq, StepOutput
from tests.helpers import copy_task_batches

PAD_ID, UNK_ID, SOS_ID, EOS_ID = 0, 1, 2, 3


class ScriptedModel(Seq2Seq):
    """Emits a fixed token sequence per sentence (row i follows scripts[i]), then <eos> forever.

    The attention of step t puts weight on source position ``t % S``, so a test can tell the
    rows apart. ``with_params=False`` gives a model without parameters or buffers.
    """

    has_attention = True

    def __init__(self, scripts, vocab=10, with_params=True):
        super().__init__(vocab, vocab)
        self.scripts = scripts
        if with_params:
            self.dummy = torch.nn.Parameter(torch.zeros(1))

    def encode(self, src, src_lens):  # like every model, it starts with the one check of the batch
        return {"enc_outputs": src.float().unsqueeze(-1), "src_pad_mask": self.source_pad_mask(src, src_lens),
                "row": torch.arange(src.size(0)) % len(self.scripts)}

    def init_state(self, enc):
        return {"t": torch.zeros(enc["row"].size(0), dtype=torch.long)}

    def decode_step(self, prev_tokens, state, enc):
        logits = torch.full((prev_tokens.size(0), self.tgt_vocab_size), -10.0)
        for i, (row, t) in enumerate(zip(enc["row"].tolist(), state["t"].tolist())):
            script = self.scripts[row] + [self.eos_id]
            logits[i, script[min(t, len(script) - 1)]] = 10.0
        S = enc["enc_outputs"].size(1)
        weights = torch.nn.functional.one_hot(state["t"] % S, S).float() * 0.5 + 0.5 / S
        return StepOutput(logits, {"t": state["t"] + 1}, weights)


def word_vocab(n=10):
    return Vocab(list(SPECIALS) + [f"w{i}" for i in range(4, n)])


def tiny_bahdanau(vocab=10):
    torch.manual_seed(0)
    return BahdanauSeq2Seq(vocab, vocab, BahdanauConfig(emb_dim=8, enc_hidden_dim=8, dec_hidden_dim=8, attn_dim=8,
                                                        dropout=0.0)).eval()


# --- greedy_decode ---------------------------------------------------------------------------

def test_greedy_stops_at_eos_per_sentence():
    model = ScriptedModel([[5, 6, 7], [8], [4, 4, 4, 4, 4]])
    src = torch.ones(3, 2, dtype=torch.long)
    out = greedy_decode(model, src, torch.tensor([2, 2, 2]), max_len=20)
    assert out.hypotheses(model.eos_id) == [[5, 6, 7], [8], [4, 4, 4, 4, 4]]
    assert out.lengths.tolist() == [4, 2, 6]
    assert out.tokens.size(1) == 6, "the loop must end once every sentence produced <eos>"
    assert out.finished.all()
    assert out.tokens[1, 2:].eq(model.pad_id).all(), "after <eos> a row is padded"
    assert out.attn_weights[1, 2:].eq(0).all(), "after <eos> a row has no attention"
    assert (out.log_probs <= 0).all() and (out.log_probs > -1e-3).all(), "scripted tokens are near-certain"
    assert out.topk_ids is None


def test_greedy_respects_max_len():
    model = ScriptedModel([[5] * 30])
    out = greedy_decode(model, torch.ones(1, 2, dtype=torch.long), torch.tensor([2]), max_len=4)
    assert out.tokens.tolist() == [[5, 5, 5, 5]]
    assert not out.finished.any()
    for bad in (0, -1, 2.5, True, "3"):
        with pytest.raises(ValueError):
            greedy_decode(model, torch.ones(1, 2, dtype=torch.long), torch.tensor([2]), max_len=bad)


def test_greedy_bad_inputs():
    model = ScriptedModel([[5]])
    src = torch.ones(2, 3, dtype=torch.long)
    bad = [(src, torch.tensor([4, 3])),  # a length longer than the source
           (src, torch.tensor([3])),  # one length for two sentences
           (src, torch.tensor([3, 0])),  # empty sentence
           (src, torch.tensor([3.0, 3.0])),  # float lengths
           (src.float(), torch.tensor([3, 3])),  # float ids
           (src[0], torch.tensor([3])),  # 1-D source
           (torch.ones(0, 3, dtype=torch.long), torch.zeros(0, dtype=torch.long)),  # empty batch
           (src, [3, 3])]  # a list, not a tensor
    for s, lens in bad:
        with pytest.raises(ValueError):
            greedy_decode(model, s, lens)
    with pytest.raises(ValueError):
        greedy_decode(model, src, torch.tensor([3, 3]), record_topk=-1)


def test_greedy_records_topk():
    model = tiny_bahdanau()
    b = copy_task_batches(1, batch_size=3, vocab=10)[0]
    out = greedy_decode(model, b.src, b.src_lens, max_len=6, record_topk=4)
    assert out.topk_ids.shape == out.topk_probs.shape == (3, out.tokens.size(1), 4)
    first = out.topk_ids[:, 0, 0]
    assert torch.equal(first, out.tokens[:, 0]), "the chosen word is the most probable one"
    assert (out.topk_probs[..., :-1] >= out.topk_probs[..., 1:]).all()
    assert greedy_decode(model, b.src, b.src_lens, max_len=6, record_topk=50).topk_ids.size(-1) == 10


def test_batched_greedy_equals_one_sentence_at_a_time():
    torch.manual_seed(0)
    model = VanillaSeq2Seq(12, 12, VanillaConfig(16, 32, 1, 0.0)).eval()
    batch = copy_task_batches(1, batch_size=6)[0]
    batched = greedy_decode(model, batch.src, batch.src_lens, max_len=10).hypotheses(model.eos_id)
    for i in range(6):
        n = int(batch.src_lens[i])
        single = greedy_decode(model, batch.src[i:i + 1, :n], batch.src_lens[i:i + 1], max_len=10)
        assert single.hypotheses(model.eos_id)[0] == batched[i]


class Exploding(ScriptedModel):
    def decode_step(self, prev_tokens, state, enc):
        raise RuntimeError("boom")


def test_model_mode_restored_even_when_decoding_fails():
    model = Exploding([[5]]).train()
    with pytest.raises(RuntimeError):
        greedy_decode(model, torch.ones(1, 2, dtype=torch.long), torch.tensor([2]))
    assert model.training
    with pytest.raises(RuntimeError):
        beam_search(model, torch.ones(1, 2, dtype=torch.long), torch.tensor([2]), beam_size=2)
    assert model.training


# --- translate -------------------------------------------------------------------------------

def test_translate_a_bare_string_is_one_sentence():
    model, vocab = tiny_bahdanau(), word_vocab()
    one = translate(model, "w4 w5 w6 w7", str.split, vocab, vocab, max_len=5)
    assert len(one) == 1, "a str is one sentence, not four characters"
    same = translate(model, ["w4 w5 w6 w7"], str.split, vocab, vocab, max_len=5)
    assert one[0].tokens == same[0].tokens
    assert one[0].src_tokens == ["w4", "w5", "w6", "w7", EOS]


def test_translate_bad_inputs():
    model, vocab = tiny_bahdanau(), word_vocab()
    with pytest.raises(ValueError):
        translate(model, [], str.split, vocab, vocab)
    with pytest.raises(ValueError, match="is empty"):
        translate(model, ["w4", "   "], str.split, vocab, vocab)
    for bad in (None, 42, [1, 2], ["w4", None]):
        with pytest.raises(TypeError):
            translate(model, bad, str.split, vocab, vocab)
    with pytest.raises(ValueError, match="model"):
        translate(model, ["w4"], str.split, word_vocab(12), vocab)
    with pytest.raises(TypeError):
        translate(model, ["w4"], str.split, vocab, {"w4": 4})
    with pytest.raises(TypeError):
        translate(model, ["w4"], None, vocab, vocab)
    for kwargs in (dict(max_len=0), dict(beam_size=0), dict(beam_size=2, n_best=3), dict(alpha=-1.0),
                   dict(beta=float("nan"))):
        with pytest.raises(ValueError):
            translate(model, ["w4"], str.split, vocab, vocab, **kwargs)
    vanilla = VanillaSeq2Seq(10, 10, VanillaConfig(8, 8, 1, 0.0))
    with pytest.raises(ValueError, match="attention"):
        translate(vanilla, ["w4"], str.split, vocab, vocab, beam_size=3, beta=0.2)


def test_translate_with_beam_search():
    model, vocab = tiny_bahdanau(), word_vocab()
    greedy = translate(model, ["w4 w5 w6", "w7 w8"], str.split, vocab, vocab, max_len=6)
    beam1 = translate(model, ["w4 w5 w6", "w7 w8"], str.split, vocab, vocab, max_len=6, beam_size=1, n_best=1)
    assert [t.tokens for t in beam1] == [t.tokens for t in greedy]
    beam = translate(model, ["w4 w5 w6", "w7 w8"], str.split, vocab, vocab, max_len=6, beam_size=4, alpha=0.6,
                     n_best=3)
    for tr in beam:
        assert len(tr.alternatives) == 2
        scores = [tr.score] + [a.score for a in tr.alternatives]
        assert scores == sorted(scores, reverse=True)
        for t in [tr] + tr.alternatives:
            assert t.attn_weights.shape == (len(t.row_labels), len(t.src_tokens))
            assert t.log_prob <= 0
    for g in greedy:
        assert g.score == g.log_prob and g.score <= 0


def test_translation_rows_match_tokens_when_specials_are_emitted():
    # the model emits <sos>, <pad> and <unk> mid-sequence: <sos>/<pad> go with their rows, <unk> stays
    script = [5, SOS_ID, 6, PAD_ID, UNK_ID, 7]
    model, vocab = ScriptedModel([script]), word_vocab()
    for beam_size in (1, 3):
        tr = translate(model, ["w4 w5 w6 w7 w8 w9 w4"], str.split, vocab, vocab, beam_size=beam_size)[0]
        assert tr.tokens == ["w5", "w6", "<unk>", "w7"]
        assert tr.finished
        assert tr.row_labels == ["w5", "w6", "<unk>", "w7", EOS]
        assert tr.attn_weights.shape == (5, 8)
        # step t attends to source position t: the kept rows are steps 0, 2, 4, 5 and <eos>'s step 6
        assert tr.attn_weights.argmax(-1).tolist() == [0, 2, 4, 5, 6]


def test_translation_stopped_by_max_len_has_no_eos_row():
    model, vocab = ScriptedModel([[5] * 20]), word_vocab()
    tr = translate(model, ["w4 w5"], str.split, vocab, vocab, max_len=3)[0]
    assert not tr.finished and tr.tokens == ["w5"] * 3
    assert tr.row_labels == tr.tokens and tr.attn_weights.shape[0] == 3
    manual = Translation(["a", EOS], ["x"])
    assert manual.row_labels == ["x", EOS] and manual.score is None and manual.alternatives == []


def test_translate_with_a_parameterless_model():
    model, vocab = ScriptedModel([[5, 6]], with_params=False), word_vocab()
    assert list(model.parameters()) == []
    assert translate(model, "w4", str.split, vocab, vocab)[0].tokens == ["w5", "w6"]
    assert [s.token for s in decode_trace(model, ["w4"], vocab, vocab)] == ["w5", "w6", EOS]


# --- translate_dataset -----------------------------------------------------------------------

def small_dataset(vocab, n=7):
    pairs = [(" ".join(f"w{4 + (i + j) % 6}" for j in range(1 + i % 4)), "w4") for i in range(n)]
    return TranslationDataset(pairs, str.split, str.split, vocab, vocab)


def test_translate_dataset_batch_size_checks():
    model, vocab = tiny_bahdanau(), word_vocab()
    data = small_dataset(vocab)
    for bad in (0, -1, 1.5, True, None, "8"):
        with pytest.raises(ValueError, match="batch_size"):
            translate_dataset(model, data, batch_size=bad)
    with pytest.raises(ValueError, match="empty"):
        translate_dataset(model, small_dataset(vocab, n=0))
    with pytest.raises(TypeError):
        translate_dataset(model, [("w4", "w4")])
    with pytest.raises(ValueError):
        translate_dataset(model, data, beam_size=0)


def test_translate_dataset_order_and_batch_size_do_not_matter():
    model, vocab = tiny_bahdanau(), word_vocab()
    data = small_dataset(vocab)
    one = translate_dataset(model, data, batch_size=1, max_len=6)
    many = translate_dataset(model, data, batch_size=128, max_len=6)
    assert len(one) == len(data) and all(isinstance(t, Translation) for t in many)
    assert [t.tokens for t in one] == [t.tokens for t in many]
    direct = translate(model, [s for s, _ in data.pairs], str.split, vocab, vocab, max_len=6)
    assert [t.tokens for t in direct] == [t.tokens for t in many]
    beam = translate_dataset(model, data, batch_size=3, max_len=6, beam_size=3, alpha=0.5)
    beam_direct = translate(model, [s for s, _ in data.pairs], str.split, vocab, vocab, max_len=6, beam_size=3,
                            alpha=0.5)
    assert [t.tokens for t in beam] == [t.tokens for t in beam_direct]
    assert all(t.score is not None and math.isfinite(t.score) for t in beam)


# --- decode_trace ----------------------------------------------------------------------------

def test_decode_trace_records_each_step_and_ends_with_eos():
    model = ScriptedModel([[5, 6]])
    vocab = word_vocab()
    trace = decode_trace(model, ["w4", "w5"], vocab, vocab, k=3)
    assert [s.token for s in trace] == ["w5", "w6", "<eos>"]
    assert trace[2].prefix == ["w5", "w6"]
    assert len(trace[0].topk_tokens) == 3 and trace[0].topk_probs[0] > 0.99
    assert len(trace[0].attn_weights) == 3  # two tokens + <eos>


def test_decode_trace_equals_greedy():
    model, vocab = tiny_bahdanau(), word_vocab()
    trace = decode_trace(model, ["w4", "w5", "w6"], vocab, vocab, k=2, max_len=7)
    greedy = translate(model, ["w4 w5 w6"], str.split, vocab, vocab, max_len=7)[0]
    tokens = [s.token for s in trace if s.token != EOS]
    assert tokens == greedy.tokens
    for s, row in zip(trace, greedy.attn_weights):
        assert s.topk_tokens[0] == s.token
        torch.testing.assert_close(torch.tensor(s.attn_weights), row)


def test_decode_trace_bad_inputs():
    model, vocab = ScriptedModel([[5]]), word_vocab()
    with pytest.raises(TypeError, match="str"):
        decode_trace(model, "hund", vocab, vocab)
    with pytest.raises(ValueError):
        decode_trace(model, [], vocab, vocab)
    with pytest.raises(TypeError):
        decode_trace(model, None, vocab, vocab)
    with pytest.raises(TypeError):
        decode_trace(model, ["w4", 5], vocab, vocab)
    for kwargs in (dict(k=0), dict(k=-1), dict(k=1.5), dict(max_len=0)):
        with pytest.raises(ValueError):
            decode_trace(model, ["w4"], vocab, vocab, **kwargs)
