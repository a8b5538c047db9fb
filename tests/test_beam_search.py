"""Batched beam search (Wu et al. 2016, sec. 7): properties, exhaustive optimality, bad input."""

import itertools
import math

import pytest
import torch

from course_lib.decoding import (BeamSearchOutput, Hypothesis, beam_search, coverage_penalty, default_max_len,
                                 greedy_decode, length_penalty)
from course_lib.models import (BahdanauConfig, BahdanauSeq2Seq, LuongConfig, LuongSeq2Seq, VanillaConfig,
                               VanillaSeq2Seq)
from course_lib.models.base import Seq2Seq, StepOutput
from course_lib.utils import lengths_to_pad_mask
from tests.helpers import copy_task_batches

EOS, SOS, PAD = 3, 2, 0


def tiny_models(vocab=12, seed=0):
    torch.manual_seed(seed)
    return {
        "vanilla": VanillaSeq2Seq(vocab, vocab, VanillaConfig(emb_dim=8, hidden_dim=8, num_layers=1, dropout=0.0)),
        "bahdanau": BahdanauSeq2Seq(vocab, vocab, BahdanauConfig(emb_dim=8, enc_hidden_dim=8, dec_hidden_dim=8,
                                                                 attn_dim=8, dropout=0.0)),
        "luong": LuongSeq2Seq(vocab, vocab, LuongConfig(emb_dim=8, hidden_dim=8, num_layers=2, dropout=0.0)),
        "luong-local": LuongSeq2Seq(vocab, vocab, LuongConfig(emb_dim=8, hidden_dim=8, num_layers=1, dropout=0.0,
                                                              attention="local-p", window=2)),
    }


ATTENTION_MODELS = ["bahdanau", "luong", "luong-local"]


def sharpen(model, factor=4.0):
    """Scale the output layer so the random model has peaked, varied next-word distributions."""
    with torch.no_grad():
        layer = getattr(model, "out", None) or getattr(model, "W_s")
        layer.weight.mul_(factor)
        layer.bias.normal_(0, 1.5)
    return model.eval()


class TableModel(Seq2Seq):
    """Next-word distribution depends on the step only: ``probs[min(t, len-1)]``.

    Attention at step t is one-hot on source position ``min(t, S_i - 1)`` (real positions only).
    Counts the rows of every decode_step call in ``calls``.
    """

    has_attention = True

    def __init__(self, probs, vocab):
        super().__init__(vocab, vocab)
        self.table = torch.log(torch.tensor(probs, dtype=torch.float))
        self.dummy = torch.nn.Parameter(torch.zeros(1))
        self.calls = []

    def encode(self, src, src_lens):
        return {"enc_outputs": src.float().unsqueeze(-1), "src_pad_mask": lengths_to_pad_mask(src_lens, src.size(1)),
                "lens": src_lens.clone()}

    def init_state(self, enc):
        return {"t": torch.zeros(enc["lens"].size(0), dtype=torch.long)}

    def decode_step(self, prev_tokens, state, enc):
        self.calls.append(prev_tokens.size(0))
        t = state["t"]
        logits = self.table[t.clamp(max=self.table.size(0) - 1)]
        S = enc["enc_outputs"].size(1)
        pos = torch.minimum(t, enc["lens"] - 1)
        weights = torch.nn.functional.one_hot(pos, S).float()
        return StepOutput(logits, {"t": t + 1}, weights)


def batch(n=6, seed=0, vocab=12):
    return copy_task_batches(1, batch_size=n, vocab=vocab, seed=seed)[0]


# --- beam of one is greedy; batching changes nothing ---------------------------------------

@pytest.mark.parametrize("name", ["vanilla", "bahdanau", "luong", "luong-local"])
def test_beam_size_one_equals_greedy(name):
    model = sharpen(tiny_models()[name])
    b = batch()
    greedy = greedy_decode(model, b.src, b.src_lens, max_len=12)
    beam = beam_search(model, b.src, b.src_lens, beam_size=1, max_len=12)
    assert [h[0].tokens for h in beam.hypotheses] == greedy.hypotheses(model.eos_id)
    assert [h[0].finished for h in beam.hypotheses] == greedy.finished.tolist()
    for h, lp in zip(beam.best(), greedy.log_probs.tolist()):
        assert h.log_prob == pytest.approx(lp, abs=1e-4)
        assert h.score == pytest.approx(lp, abs=1e-4), "alpha = beta = 0: the score is the log-probability"


@pytest.mark.parametrize("name,alpha,beta", [("vanilla", 0.0, 0.0), ("vanilla", 0.8, 0.0), ("bahdanau", 0.6, 0.3),
                                             ("luong", 1.0, 0.5), ("luong-local", 0.2, 1.0)])
def test_batched_equals_one_sentence_at_a_time(name, alpha, beta):
    model = sharpen(tiny_models()[name])
    b = batch(n=7, seed=3)
    batched = beam_search(model, b.src, b.src_lens, beam_size=4, max_len=9, alpha=alpha, beta=beta, n_best=3)
    for i in range(b.src.size(0)):
        n = int(b.src_lens[i])
        single = beam_search(model, b.src[i:i + 1, :n], b.src_lens[i:i + 1], beam_size=4, max_len=9,
                             alpha=alpha, beta=beta, n_best=3)
        assert [h.tokens for h in single.hypotheses[0]] == [h.tokens for h in batched.hypotheses[i]]
        for hs, hb in zip(single.hypotheses[0], batched.hypotheses[i]):
            assert hs.score == pytest.approx(hb.score, abs=1e-4)
            assert hs.log_prob == pytest.approx(hb.log_prob, abs=1e-4)
            assert hs.finished == hb.finished
            if hs.attn_weights is not None:
                torch.testing.assert_close(hs.attn_weights, hb.attn_weights, atol=1e-5, rtol=1e-4)


# --- exhaustive optimality ------------------------------------------------------------------

def exhaustive(model, src, src_lens, max_len, alpha, beta):
    """Every sequence of at most max_len tokens, scored with the same s(Y, X) by running decode_step.

    Finished sequences end with <eos>; sequences of exactly max_len tokens without <eos> are the
    unfinished ones. Returns [(score, log_prob, tokens_without_eos, finished)], best first.
    """
    V = model.tgt_vocab_size
    words = [v for v in range(V) if v != EOS]
    seqs = []
    for n in range(1, max_len + 1):
        for body in itertools.product(words, repeat=n - 1):
            seqs.append((list(body) + [EOS], True))
        if n == max_len:
            seqs.extend((list(body), False) for body in itertools.product(words, repeat=n))
    mask = lengths_to_pad_mask(src_lens, src.size(1))[0]
    results = []
    with torch.no_grad():
        enc = model.encode(src, src_lens)
        for seq, finished in seqs:
            state, prev, logp = model.init_state(enc), torch.tensor([SOS]), 0.0
            cover = torch.zeros(src.size(1))
            for tok in seq:
                out = model.decode_step(prev, state, enc)
                state = out.state
                logp += float(out.logits.float().log_softmax(-1)[0, tok])
                if out.attn_weights is not None:
                    cover += out.attn_weights[0].float()
                prev = torch.tensor([tok])
            lp = ((5 + len(seq)) / 6) ** alpha
            cp = 0.0
            if beta > 0:
                cp = beta * sum(math.log(min(float(c), 1.0)) for c, m in zip(cover, mask) if not m)
            results.append((logp / lp + cp, logp, seq[:-1] if finished else seq, finished))
    results.sort(key=lambda r: -r[0])
    return results


@pytest.mark.parametrize("name,alpha,beta", [("bahdanau", 0.0, 0.0), ("bahdanau", 1.0, 0.0), ("bahdanau", 0.5, 0.7),
                                             ("luong", 0.0, 1.0), ("vanilla", 1.5, 0.0)])
def test_large_beam_finds_exhaustive_best(name, alpha, beta):
    model = sharpen(tiny_models(vocab=5, seed=1)[name], factor=3.0)
    src = torch.tensor([[4, 4, 1, EOS, PAD]])
    src_lens = torch.tensor([4])
    max_len = 3
    ranked = exhaustive(model, src, src_lens, max_len, alpha, beta)
    # a beam of V * (V - 1)^(max_len - 1) = 80 never prunes: every candidate of every step is kept
    out = beam_search(model, src, src_lens, beam_size=80, max_len=max_len, alpha=alpha, beta=beta, n_best=5)
    got = out.hypotheses[0]
    assert [h.tokens for h in got] == [r[2] for r in ranked[:5]]
    assert [h.finished for h in got] == [r[3] for r in ranked[:5]]
    for h, r in zip(got, ranked):
        assert h.score == pytest.approx(r[0], abs=1e-4)
        assert h.log_prob == pytest.approx(r[1], abs=1e-4)
    # a small beam can only do as well as the exhaustive best, never better
    small = beam_search(model, src, src_lens, beam_size=2, max_len=max_len, alpha=alpha, beta=beta).best()[0]
    assert small.score <= ranked[0][0] + 1e-5


# --- the two penalties ----------------------------------------------------------------------

def test_length_penalty_formula():
    assert length_penalty(1, 0.0) == 1.0
    assert length_penalty(7, 1.0) == pytest.approx(2.0)
    assert length_penalty(torch.tensor([1, 7]), 0.5).tolist() == pytest.approx([1.0, math.sqrt(2.0)])


def test_length_normalisation_changes_the_winner():
    V = 6  # ids 4, 5 are words; step 0: <eos> .5 or word 4 .45; then word 4, 4, <eos> with .95 each
    probs = [[0.01, 0.01, 0.01, 0.50, 0.45, 0.02], [0.01, 0.01, 0.01, 0.01, 0.95, 0.01],
             [0.01, 0.01, 0.01, 0.01, 0.95, 0.01], [0.01, 0.01, 0.01, 0.95, 0.01, 0.01],
             [0.2, 0.2, 0.2, 0.2, 0.1, 0.1]]
    model = TableModel(probs, V)
    src, lens = torch.tensor([[4, 3]]), torch.tensor([2])
    plain = beam_search(model, src, lens, beam_size=3, max_len=8, alpha=0.0).best()[0]
    normalised = beam_search(model, src, lens, beam_size=3, max_len=8, alpha=1.0).best()[0]
    assert plain.tokens == [] and plain.finished, "without normalisation the empty translation wins"
    assert normalised.tokens == [4, 4, 4] and normalised.finished
    assert normalised.score == pytest.approx(math.log(0.45 * 0.95 ** 3) / length_penalty(4, 1.0), abs=1e-5)
    assert plain.score == pytest.approx(math.log(0.5), abs=1e-5)


def test_coverage_penalty_is_zero_when_every_position_gets_full_attention():
    mask = torch.tensor([[False, False, True]])
    assert coverage_penalty(torch.tensor([[1.0, 1.3, 0.0]]), mask, 2.0).item() == 0.0, "padding is excluded"
    low = coverage_penalty(torch.tensor([[0.5, 1.0, 0.0]]), mask, 2.0).item()
    assert low == pytest.approx(2.0 * math.log(0.5))
    assert math.isfinite(coverage_penalty(torch.tensor([[0.0, 1.0, 0.0]]), mask, 1.0).item())
    # in the search: one-hot attention on position t covers a 3-token source after 3 steps
    V = 6
    probs = [[0.05, 0.05, 0.05, 0.05, 0.7, 0.1]] * 3 + [[0.05, 0.05, 0.05, 0.7, 0.1, 0.05]]
    model = TableModel(probs, V)
    src, lens = torch.tensor([[4, 4, 3, 0]]), torch.tensor([3])
    with_cp = beam_search(model, src, lens, beam_size=2, max_len=6, beta=1.0).best()[0]
    without = beam_search(model, src, lens, beam_size=2, max_len=6, beta=0.0).best()[0]
    assert with_cp.tokens == without.tokens == [4, 4, 4]
    assert with_cp.score == pytest.approx(without.score), "full coverage: no penalty (padding not counted)"
    # a hypothesis that stops before covering the source is penalised: at step 1 only position 0 is covered
    short = beam_search(model, src, lens, beam_size=2, max_len=1, beta=1.0).best()[0]
    assert not short.finished and short.score == pytest.approx(short.log_prob + 2 * math.log(1e-10), rel=1e-4)


# --- outputs --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ATTENTION_MODELS)
def test_attention_rows_and_padding(name):
    model = sharpen(tiny_models()[name])
    b = batch(n=6, seed=5)
    out = beam_search(model, b.src, b.src_lens, beam_size=3, max_len=8, n_best=3)
    for i, hyps in enumerate(out.hypotheses):
        S_i = int(b.src_lens[i])
        for h in hyps:
            assert h.attn_weights.shape == (len(h.tokens) + int(h.finished), S_i)
            assert (h.attn_weights >= 0).all()
            if name != "luong-local":  # local-p's Gaussian scaling leaves rows below one
                # the rows sum to one over the real positions: padded positions got exactly nothing
                torch.testing.assert_close(h.attn_weights.sum(-1), torch.ones(h.attn_weights.size(0)),
                                           atol=1e-5, rtol=0)
            assert h.length == len(h.tokens) + int(h.finished)


def test_n_best_distinct_sorted_and_vanilla_has_no_attention():
    for name, model in tiny_models().items():
        model = sharpen(model)
        b = batch(n=4, seed=2)
        out = beam_search(model, b.src, b.src_lens, beam_size=5, max_len=7, alpha=0.6, n_best=5)
        assert isinstance(out, BeamSearchOutput) and out.steps is None
        for hyps in out.hypotheses:
            assert len(hyps) == 5
            assert all(isinstance(h, Hypothesis) for h in hyps)
            scores = [h.score for h in hyps]
            assert scores == sorted(scores, reverse=True)
            assert len({tuple(h.tokens) + (h.finished,) for h in hyps}) == 5, "n-best must be distinct"
            for h in hyps:
                assert h.score == pytest.approx(h.log_prob / length_penalty(h.length, 0.6), abs=1e-5)
                assert (h.attn_weights is None) == (name == "vanilla")


class EndAtSourceLength(TableModel):
    """Word 4 is likely until step ``S_i - 1``, then <eos>: sentence i ends after ``S_i`` tokens."""

    def __init__(self):
        super().__init__([[0.25] * 6], 6)

    def decode_step(self, prev_tokens, state, enc):
        out = super().decode_step(prev_tokens, state, enc)
        t, lens = state["t"], enc["lens"]
        words = torch.log(torch.tensor([0.01, 0.01, 0.01, 0.02, 0.9, 0.05]))
        ends = torch.log(torch.tensor([0.01, 0.01, 0.01, 0.9, 0.05, 0.02]))
        logits = torch.where((t >= lens - 1).unsqueeze(1), ends, words)
        return StepOutput(logits, out.state, out.attn_weights)


def test_each_sentence_finishes_on_its_own():
    model = EndAtSourceLength()
    src = torch.tensor([[4, 3, 0, 0, 0, 0], [4, 4, 4, 4, 4, 3], [4, 4, 3, 0, 0, 0]])
    lens = torch.tensor([2, 6, 3])
    out = beam_search(model, src, lens, beam_size=2, max_len=30)
    assert [h.tokens for h in out.best()] == [[4], [4] * 5, [4, 4]]
    assert model.calls[:2] == [3, 6], "step 0 runs one row per sentence, then K beams per sentence"
    assert model.calls[1:] == sorted(model.calls[1:], reverse=True) and model.calls[-1] == 2
    assert 4 in model.calls, "the shortest sentence leaves the batch before the others"
    assert len(model.calls) < 12, "a finished sentence must not run to max_len"
    single = [beam_search(EndAtSourceLength(), src[i:i + 1, :n], lens[i:i + 1], beam_size=2, max_len=30).best()[0]
              for i, n in enumerate(lens.tolist())]
    assert [h.tokens for h in single] == [h.tokens for h in out.best()]


def test_finished_sentences_leave_the_batch():
    model = sharpen(tiny_models()["bahdanau"])
    b = batch(n=8, seed=4)
    calls = []
    original = model.decode_step

    def counting(prev, state, enc):
        calls.append(prev.size(0))
        return original(prev, state, enc)

    model.decode_step = counting
    beam_search(model, b.src, b.src_lens, beam_size=3, max_len=30)
    assert calls[0] == 8 and calls[1] == 8 * 3
    assert calls[1:] == sorted(calls[1:], reverse=True), "the batch only shrinks"
    assert all(c % 3 == 0 for c in calls[1:])


def test_record_steps():
    model = sharpen(tiny_models()["bahdanau"])
    b = batch(n=2, seed=6)
    out = beam_search(model, b.src, b.src_lens, beam_size=3, max_len=6, alpha=0.5, n_best=2, record_steps=True)
    assert len(out.steps) == 2
    for hyps, steps in zip(out.hypotheses, out.steps):
        assert [s.step for s in steps] == list(range(len(steps)))
        for prev, step in zip([None] + steps[:-1], steps):
            assert 1 <= len(step.kept) <= 3 and len(step.parents) == len(step.kept)
            assert all(len(h.tokens) == step.step + 1 for h in step.kept)
            scores = [h.score for h in step.kept]
            assert scores == sorted(scores, reverse=True)
            if prev is not None:
                for h, p in zip(step.kept, step.parents):
                    assert h.tokens[:-1] == prev.kept[p].tokens
        every_finished = [(tuple(h.tokens), h.finished) for s in steps for h in s.finished]
        for h in hyps:
            assert (tuple(h.tokens), h.finished) in every_finished


# --- bad input ------------------------------------------------------------------------------

def test_bad_arguments_raise_value_error():
    models = tiny_models()
    model = models["bahdanau"]
    src, lens = torch.tensor([[4, 5, 3]]), torch.tensor([3])
    bad_kwargs = [dict(beam_size=0), dict(beam_size=-2), dict(beam_size=2.5), dict(beam_size=True),
                  dict(n_best=0), dict(beam_size=2, n_best=3), dict(max_len=0), dict(max_len=-1), dict(max_len=2.0),
                  dict(alpha=-0.1), dict(alpha=float("nan")), dict(beta=float("inf")), dict(beta=-1.0),
                  dict(alpha="0.5")]
    for kwargs in bad_kwargs:
        with pytest.raises(ValueError):
            beam_search(model, src, lens, **kwargs)
    bad_inputs = [(torch.tensor([4, 5, 3]), lens), (src.float(), lens), (src, torch.tensor([4])),
                  (src, torch.tensor([0])), (src, torch.tensor([3, 3])), (src, torch.tensor([3.0])),
                  (torch.zeros(0, 3, dtype=torch.long), torch.zeros(0, dtype=torch.long)), (src, None),
                  (src, torch.tensor(3))]
    for s, l in bad_inputs:
        with pytest.raises(ValueError):
            beam_search(model, s, l)
    with pytest.raises(ValueError, match="attention"):
        beam_search(models["vanilla"], src, lens, beta=0.5)


def test_model_mode_restored_and_no_grad():
    model = tiny_models()["luong"].train()
    src, lens = torch.tensor([[4, 5, 3]]), torch.tensor([3])
    out = beam_search(model, src, lens, beam_size=2, max_len=4)
    assert model.training, "the model's mode must be restored"
    assert out.best()[0].attn_weights.requires_grad is False


def test_penalty_functions_refuse_bad_input():
    for alpha in (-0.5, float("nan"), float("inf"), "1", None, True):
        with pytest.raises(ValueError):
            length_penalty(3, alpha)
    for length in (-1, 2.5, "3", None, torch.tensor([1.0]), torch.tensor([-1, 2])):
        with pytest.raises(ValueError):
            length_penalty(length, 0.5)
    cov, mask = torch.tensor([[0.5, 1.0]]), torch.tensor([[False, True]])
    for beta in (-1.0, float("nan"), None):
        with pytest.raises(ValueError):
            coverage_penalty(cov, mask, beta)
    bad = [(torch.tensor([[1, 2]]), mask), (cov, torch.tensor([[0, 1]])), (cov, torch.zeros(1, 3, dtype=torch.bool)),
           (torch.tensor([[-0.1, 1.0]]), mask), (torch.tensor([[float("nan"), 1.0]]), mask), ([0.5, 1.0], mask)]
    for c, m in bad:
        with pytest.raises(ValueError):
            coverage_penalty(c, m, 1.0)
    assert default_max_len(torch.tensor([3, 7])) == 24
    for lens in (torch.tensor([]), torch.tensor([[3]]), torch.tensor([3.0]), [3], None):
        with pytest.raises(ValueError):
            default_max_len(lens)
