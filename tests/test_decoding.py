import pytest
import torch

from course_lib.decoding import decode_trace, greedy_decode
from course_lib.models import VanillaConfig, VanillaSeq2Seq
from course_lib.models.base import Seq2Seq, StepOutput, lengths_to_pad_mask
from tests.helpers import copy_task_batches


class ScriptedModel(Seq2Seq):
    """Emits a fixed token sequence per sentence (row i follows scripts[i]), then <eos> forever."""

    def __init__(self, scripts, vocab=10):
        super().__init__(vocab, vocab)
        self.scripts = scripts
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def encode(self, src, src_lens):
        return {"enc_outputs": src.float().unsqueeze(-1), "src_pad_mask": lengths_to_pad_mask(src_lens, src.size(1)),
                "row": torch.arange(src.size(0))}

    def init_state(self, enc):
        return {"t": torch.zeros(enc["row"].size(0), dtype=torch.long)}

    def decode_step(self, prev_tokens, state, enc):
        logits = torch.full((prev_tokens.size(0), self.tgt_vocab_size), -10.0)
        for i, (row, t) in enumerate(zip(enc["row"].tolist(), state["t"].tolist())):
            script = self.scripts[row] + [self.eos_id]
            logits[i, script[min(t, len(script) - 1)]] = 10.0
        weights = torch.full((prev_tokens.size(0), enc["enc_outputs"].size(1)), 0.5)
        return StepOutput(logits, {"t": state["t"] + 1}, weights)


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


def test_greedy_respects_max_len():
    model = ScriptedModel([[5] * 30])
    out = greedy_decode(model, torch.ones(1, 2, dtype=torch.long), torch.tensor([2]), max_len=4)
    assert out.tokens.tolist() == [[5, 5, 5, 5]]
    assert not out.finished.any()
    with pytest.raises(ValueError):
        greedy_decode(model, torch.ones(1, 2, dtype=torch.long), torch.tensor([2]), max_len=0)


def test_batched_greedy_equals_one_sentence_at_a_time():
    torch.manual_seed(0)
    model = VanillaSeq2Seq(12, 12, VanillaConfig(16, 32, 1, 0.0)).eval()
    batch = copy_task_batches(1, batch_size=6)[0]
    batched = greedy_decode(model, batch.src, batch.src_lens, max_len=10).hypotheses(model.eos_id)
    for i in range(6):
        n = int(batch.src_lens[i])
        single = greedy_decode(model, batch.src[i:i + 1, :n], batch.src_lens[i:i + 1], max_len=10)
        assert single.hypotheses(model.eos_id)[0] == batched[i]


class TinyVocab:
    def __init__(self, n):
        self.itos = ["<pad>", "<unk>", "<sos>", "<eos>"] + [f"w{i}" for i in range(4, n)]
        self.pad_id, self.unk_id, self.sos_id, self.eos_id = 0, 1, 2, 3

    def __getitem__(self, token):
        return self.itos.index(token) if token in self.itos else 1


def test_decode_trace_records_each_step_and_ends_with_eos():
    model = ScriptedModel([[5, 6]])
    vocab = TinyVocab(10)
    trace = decode_trace(model, ["w4", "w5"], vocab, vocab, k=3)
    assert [s.token for s in trace] == ["w5", "w6", "<eos>"]
    assert trace[2].prefix == ["w5", "w6"]
    assert len(trace[0].topk_tokens) == 3 and trace[0].topk_probs[0] > 0.99
    assert len(trace[0].attn_weights) == 3  # two tokens + <eos>
    with pytest.raises(ValueError):
        decode_trace(model, [], vocab, vocab)
