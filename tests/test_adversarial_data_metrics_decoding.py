"""Bad input to the public API of ``course_lib.data``, ``course_lib.metrics`` and
``course_lib.decoding``: each case is refused early with a clear ValueError / TypeError
(never an AttributeError / IndexError / RuntimeError from deep inside, never silent
acceptance, never a str read character by character), and valid input still works."""

from __future__ import annotations

import types

import numpy as np
import pytest
import torch

from course_lib import data, decoding, metrics
from course_lib.data import SPECIALS, TranslationDataset, Vocab
from tests.test_decoding import ScriptedModel, tiny_bahdanau, word_vocab


@pytest.fixture
def model():
    return tiny_bahdanau(10)


@pytest.fixture
def vocab():
    return word_vocab(10)


SRC = torch.tensor([[4, 5, 3], [6, 3, 0]])
LENS = torch.tensor([3, 2])
NOT_MODELS = [None, "bahdanau", torch.nn.Linear(2, 2)]


def _dataset(vocab):
    return TranslationDataset([("w4 w5", "w6"), ("w7", "w8 w9")], str.split, str.split, vocab, vocab)


# --- decoding: the model argument ---------------------------------------------------------

@pytest.mark.parametrize("bad", NOT_MODELS, ids=["None", "str", "Linear"])
def test_every_search_refuses_a_model_that_is_not_a_seq2seq(bad, vocab):
    calls = [
        lambda: decoding.greedy_decode(bad, SRC, LENS),
        lambda: decoding.beam_search(bad, SRC, LENS, beam_size=2),
        lambda: decoding.translate(bad, ["w4 w5"], str.split, vocab, vocab),
        lambda: decoding.translate_dataset(bad, _dataset(vocab)),
        lambda: decoding.decode_trace(bad, ["w4"], vocab, vocab),
    ]
    for call in calls:
        with pytest.raises(TypeError, match="Seq2Seq"):
            call()


# --- decoding: flags and small helpers ----------------------------------------------------

@pytest.mark.parametrize("bad", ["yes", None, 1, 0.0])
def test_beam_search_refuses_a_non_bool_record_steps(model, bad):
    with pytest.raises(TypeError, match="record_steps"):
        decoding.beam_search(model, SRC, LENS, beam_size=2, record_steps=bad)


def test_beam_search_record_steps_still_works(model):
    out = decoding.beam_search(model, SRC, LENS, beam_size=2, max_len=4, record_steps=True)
    assert out.steps is not None and len(out.steps) == 2
    assert decoding.beam_search(model, SRC, LENS, beam_size=2, max_len=4).steps is None


@pytest.mark.parametrize("bad", ["yes", None, 1])
def test_translate_dataset_refuses_a_non_bool_progress(model, vocab, bad):
    with pytest.raises(TypeError, match="progress"):
        decoding.translate_dataset(model, _dataset(vocab), progress=bad)


@pytest.mark.parametrize("lens", [torch.tensor([-5]), torch.tensor([0]), torch.tensor([3, 0])])
def test_default_max_len_refuses_lengths_below_one(lens):
    with pytest.raises(ValueError, match=">= 1"):
        decoding.default_max_len(lens)


def test_default_max_len_valid():
    assert decoding.default_max_len(torch.tensor([3, 7])) == 24


def test_coverage_penalty_refuses_a_mask_that_widens_the_result():
    coverage = torch.rand(3)
    with pytest.raises(ValueError, match="src_pad_mask"):
        decoding.coverage_penalty(coverage, torch.zeros(2, 3, dtype=torch.bool), 0.5)
    with pytest.raises(ValueError, match="src_pad_mask"):
        decoding.coverage_penalty(torch.rand(2, 3), torch.zeros(5, 2, 3, dtype=torch.bool), 0.5)


def test_coverage_penalty_result_has_coverage_shape_when_the_mask_broadcasts():
    coverage = torch.rand(4, 2, 3)
    mask = torch.tensor([False, False, True])  # [S] broadcasts to [4, 2, 3]
    out = decoding.coverage_penalty(coverage, mask, 0.5)
    assert out.shape == (4, 2)
    assert bool((out <= 0).all())


@pytest.mark.parametrize("bad", [None, "<eos>", 3.5, True, -1])
def test_greedy_output_hypotheses_refuses_a_bad_eos_id(model, bad):
    out = decoding.greedy_decode(model, SRC, LENS, max_len=3)
    with pytest.raises(ValueError, match="eos_id"):
        out.hypotheses(bad)


def test_greedy_output_hypotheses_valid():
    model = ScriptedModel([[5, 6], [7]])
    out = decoding.greedy_decode(model, SRC, LENS)
    assert out.hypotheses(model.eos_id) == [[5, 6], [7]]
    assert out.hypotheses(np.int64(model.eos_id)) == [[5, 6], [7]]


def test_beam_search_output_best_of_an_empty_sentence_is_a_value_error():
    hyp = decoding.Hypothesis([4], -1.0, -1.0, None, True)
    assert decoding.BeamSearchOutput([[hyp]]).best() == [hyp]
    with pytest.raises(ValueError, match="sentence 1 has no hypothesis"):
        decoding.BeamSearchOutput([[hyp], []]).best()


# --- decoding: Translation built by hand --------------------------------------------------

@pytest.mark.parametrize("field", ["src_tokens", "tokens"])
@pytest.mark.parametrize("bad", ["a cat", None, [1, 2], [["a"]], b"ab"])
def test_translation_refuses_a_str_or_non_token_list(field, bad):
    kwargs = {"src_tokens": ["x", "<eos>"], "tokens": ["a"]}
    kwargs[field] = bad
    with pytest.raises(TypeError, match=f"Translation.{field}"):
        decoding.Translation(**kwargs)


def test_translation_valid_tokens_kept_as_lists():
    tr = decoding.Translation(("x", "<eos>"), ("a", "cat"))
    assert tr.src_tokens == ["x", "<eos>"] and tr.tokens == ["a", "cat"]
    assert tr.text == "a cat" and tr.row_labels == ["a", "cat", "<eos>"]
    tokens = ["a"]
    assert decoding.Translation(["x"], tokens).tokens is tokens  # a list is not copied


# --- decoding: translate's tokeniser ------------------------------------------------------

@pytest.mark.parametrize("tokenizer", [lambda s: s, lambda s: None, lambda s: [1, 2], lambda s: s.encode()],
                         ids=["returns-str", "returns-None", "returns-ints", "returns-bytes"])
def test_translate_refuses_a_tokenizer_that_does_not_return_str_tokens(model, vocab, tokenizer):
    with pytest.raises(TypeError, match="src_tokenizer's output"):
        decoding.translate(model, ["w4 w5"], tokenizer, vocab, vocab)


def test_translate_valid_tokenizer_returning_a_tuple(model, vocab):
    out = decoding.translate(model, "w4 w5", lambda s: tuple(s.split()), vocab, vocab, max_len=3)
    assert len(out) == 1 and out[0].src_tokens == ["w4", "w5", "<eos>"]


# --- metrics ------------------------------------------------------------------------------

REFS = ["a cat sat", "the dog ran"]


@pytest.mark.parametrize("tokens", [[1, 2], ["a", None], [["a"]]])
def test_evaluate_translations_refuses_non_str_tokens_clearly(tokens):
    trs = [types.SimpleNamespace(tokens=tokens), decoding.Translation(["y"], ["the", "dog"])]
    with pytest.raises(TypeError, match="tokens must be str"):
        metrics.evaluate_translations(trs, REFS)


@pytest.mark.parametrize("kwargs, error", [
    ({"src_lengths": [3]}, ValueError),
    ({"src_lengths": [3, -1]}, ValueError),
    ({"src_lengths": "32"}, TypeError),
    ({"src_lengths": [3, 2.5]}, TypeError),
])
def test_evaluate_translations_checks_src_lengths_before_scoring(monkeypatch, kwargs, error):
    def no_scoring(*args, **kw):
        raise AssertionError("scored before the arguments were checked")

    monkeypatch.setattr(metrics, "bleu_scores", no_scoring)
    monkeypatch.setattr(metrics, "corpus_chrf", no_scoring)
    trs = [decoding.Translation(["x"], ["a", "cat", "sat"]), decoding.Translation(["y"], ["the", "dog"])]
    with pytest.raises(error):
        metrics.evaluate_translations(trs, REFS, **kwargs)


def test_evaluate_translations_checks_references_before_scoring(monkeypatch):
    def no_scoring(*args, **kw):
        raise AssertionError("scored before the arguments were checked")

    monkeypatch.setattr(metrics, "bleu_scores", no_scoring)
    trs = [decoding.Translation(["x"], ["a", "cat", "sat"]), decoding.Translation(["y"], ["the", "dog"])]
    with pytest.raises(ValueError, match="2 hypotheses but 1 references"):
        metrics.evaluate_translations(trs, REFS[:1])


def test_evaluate_translations_valid_with_lengths():
    refs = ["a cat sat on the mat", "the dog ran in the park"]
    trs = [decoding.Translation(["x"], r.split()) for r in refs]
    out = metrics.evaluate_translations(trs, refs, src_lengths=[3, 12])
    assert out["bleu"].score == pytest.approx(100.0)
    assert int(out["by_length"]["sentences"].sum()) == 2


# --- data: seeds ----------------------------------------------------------------------------

@pytest.mark.parametrize("seed, error", [(-1, ValueError), (True, TypeError), (2.5, TypeError), (None, TypeError),
                                         ("5", TypeError)])
def test_make_date_corpus_and_split_pairs_refuse_bad_seeds(seed, error):
    with pytest.raises(error, match="seed"):
        data.make_date_corpus(5, seed)
    with pytest.raises(error, match="seed"):
        data.split_pairs(data.make_date_corpus(40), 0.1, 0.1, seed=seed)


def test_seeds_valid_and_numpy_ints_accepted():
    assert data.make_date_corpus(5, np.int64(3)) == data.make_date_corpus(5, 3)
    pairs = data.make_date_corpus(40)
    assert data.split_pairs(pairs, 0.1, 0.1, seed=np.int64(1)) == data.split_pairs(pairs, 0.1, 0.1, seed=1)


@pytest.mark.parametrize("seed, error", [(-1, ValueError), (True, TypeError)])
def test_prepare_multi30k_refuses_a_negative_seed_before_loading(monkeypatch, seed, error):
    from course_lib.data import prepare

    def no_loading(*args, **kw):
        raise AssertionError("loaded data before the arguments were checked")

    monkeypatch.setattr(prepare, "load_multi30k", no_loading)
    with pytest.raises(error, match="seed"):
        data.prepare_multi30k(seed=seed, max_train_pairs=10, max_eval_pairs=5)


# --- data: bool flags -----------------------------------------------------------------------

V = Vocab(list(SPECIALS) + ["a", "b"])


@pytest.mark.parametrize("bad", ["no", None, 0, 1.0])
def test_vocab_flags_must_be_bools(bad):
    with pytest.raises(TypeError, match="add_sos_eos"):
        V.encode(["a"], add_sos_eos=bad)
    with pytest.raises(TypeError, match="strip_special"):
        V.decode([4], strip_special=bad)
    with pytest.raises(TypeError, match="stop_at_eos"):
        V.decode([4], stop_at_eos=bad)


def test_vocab_flags_valid():
    assert V.encode(["a", "zz"], add_sos_eos=False) == [4, 1]
    assert V.encode(["a"], add_sos_eos=np.bool_(True)) == [2, 4, 3]
    assert V.decode([2, 4, 3, 5], strip_special=False, stop_at_eos=False) == ["<sos>", "a", "<eos>", "b"]


@pytest.mark.parametrize("bad", ["no", None, 1])
def test_bucket_sampler_and_make_loader_flags_must_be_bools(bad, vocab):
    with pytest.raises(TypeError, match="shuffle"):
        data.BucketBatchSampler([1, 2, 3], 2, shuffle=bad)
    ds = _dataset(vocab)
    with pytest.raises(TypeError, match="shuffle"):
        data.make_loader(ds, 2, shuffle=bad)
    with pytest.raises(TypeError, match="bucket"):
        data.make_loader(ds, 2, bucket=bad)


@pytest.mark.parametrize("lengths", [{1: 2, 3: 4}, {3, 1, 2}])
def test_bucket_sampler_refuses_a_dict_or_set_of_lengths(lengths):
    with pytest.raises(TypeError, match="lengths"):
        data.BucketBatchSampler(lengths, 2)


def test_bucket_sampler_and_loader_valid(vocab):
    sampler = data.BucketBatchSampler((n for n in [3, 1, 2]), 2, shuffle=False)  # any iterable of ints
    assert list(sampler) == [[1, 2], [0]]
    loader = data.make_loader(_dataset(vocab), 2, shuffle=np.bool_(False), bucket=False)
    assert len(next(iter(loader))) == 2


# --- data: Batch.to -------------------------------------------------------------------------

def _batch():
    s = torch.tensor([[4, 3], [5, 3]])
    return data.Batch(s, torch.tensor([2, 2]), s, torch.tensor([2, 2]))


@pytest.mark.parametrize("device, error", [("nodevice", ValueError), (None, TypeError), (5, TypeError),
                                           (True, TypeError)])
def test_batch_to_refuses_a_bad_device(device, error):
    with pytest.raises(error, match="device"):
        _batch().to(device)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_batch_to_refuses_a_missing_cuda_device():
    with pytest.raises(ValueError, match="not available"):
        _batch().to("cuda:0")


def test_batch_to_refuses_a_non_bool_non_blocking():
    with pytest.raises(TypeError, match="non_blocking"):
        _batch().to("cpu", non_blocking="yes")


def test_batch_to_valid():
    b = _batch()
    for device in ("cpu", torch.device("cpu")):
        moved = b.to(device)
        assert moved.src.device.type == "cpu" and torch.equal(moved.src, b.src)


# --- data: tokenisers that return a str, pre-tokenised lists --------------------------------

def test_translation_dataset_refuses_a_tokenizer_that_returns_the_str(vocab):
    with pytest.raises(TypeError, match="tokenizer must return a list of str tokens"):
        TranslationDataset([("w4 w5", "w6")], lambda s: s, str.split, vocab, vocab)
    with pytest.raises(TypeError, match="tokenizer must return a list of str tokens"):
        TranslationDataset([("w4 w5", "w6")], str.split, lambda s: None, vocab, vocab)
    with pytest.raises(TypeError, match="str tokens"):
        TranslationDataset([("w4 w5", "w6")], lambda s: [1, 2], str.split, vocab, vocab)


@pytest.mark.parametrize("given", ["w4 w5", ["w4 w5"], [[1]], [None], 5])
def test_translation_dataset_refuses_bad_pretokenised_lists(vocab, given):
    with pytest.raises(TypeError):
        TranslationDataset([("w4 w5", "w6")], str.split, str.split, vocab, vocab, src_tokens=given)
    with pytest.raises(TypeError):
        TranslationDataset([("w4 w5", "w6")], str.split, str.split, vocab, vocab, tgt_tokens=given)


def test_translation_dataset_pretokenised_valid(vocab):
    ds = TranslationDataset([("w4 w5", "w6")], str.split, str.split, vocab, vocab,
                            src_tokens=[("w4", "w5")], tgt_tokens=[["w6"]])
    assert ds.src_tokens == [["w4", "w5"]] and ds.src_ids == [[vocab["w4"], vocab["w5"], vocab.eos_id]]


def test_prepare_pairs_refuses_a_tokenizer_that_returns_the_str():
    pairs = data.make_date_corpus(30)
    with pytest.raises(TypeError, match="tokenizer must return a list of str tokens"):
        data.prepare_pairs(pairs[:20], pairs[20:25], pairs[25:], lambda s: s, data.char_tokenize)


@pytest.mark.parametrize("bad", [5, ["en"], b"en"])
def test_prepare_pairs_refuses_non_str_language_labels(bad):
    pairs = data.make_date_corpus(30)
    tok = data.char_tokenize
    with pytest.raises(TypeError, match="src_lang"):
        data.prepare_pairs(pairs[:20], pairs[20:25], pairs[25:], tok, tok, src_lang=bad)
    with pytest.raises(TypeError, match="tgt_lang"):
        data.prepare_pairs(pairs[:20], pairs[20:25], pairs[25:], tok, tok, tgt_lang=bad)


@pytest.mark.parametrize("bad", [None, "en", 5])
def test_detokenize_refuses_something_that_is_not_a_tokenizer(bad):
    with pytest.raises(TypeError, match="detokenize's tokenizer must be the tokeniser the tokens came from"):
        data.detokenize(bad, ["a", "dog", "."])


def test_detokenize_plain_callable_and_char_tokenizer_valid():
    assert data.detokenize(str.split, ["a", "dog", "."]) == "a dog."
    assert data.detokenize(data.char_tokenize, data.char_tokenize("3 may")) == "3 may"


@pytest.mark.parametrize("args", [(None, {}), ("x", {}), (object(), {})])
def test_subword_tokenizer_constructor_refuses_a_non_hf_model(args):
    with pytest.raises(TypeError, match="tokenizers.Tokenizer"):
        data.SubwordTokenizer(*args)


def test_subword_tokenizer_constructor_refuses_bad_settings():
    tok = data.train_subword_tokenizer([s for s, _ in data.make_date_corpus(50)], vocab_size=60, cache=False)
    with pytest.raises(TypeError, match="settings"):
        data.SubwordTokenizer(tok._hf, None)
    with pytest.raises(TypeError, match="fingerprint"):
        data.SubwordTokenizer(tok._hf, {}, fingerprint=5)
    again = data.SubwordTokenizer(tok._hf, tok.settings, tok.fingerprint)
    assert again("3 may 1998") == tok("3 may 1998")


def test_searches_and_encode_refuse_a_batch_on_another_device_than_the_model():
    model = tiny_bahdanau(10).to("meta")  # weights on another device than the CPU batch
    wrong_device = r"src \(integer ids \[B, S\]\) is on cpu but must be on meta"
    with pytest.raises(ValueError, match=wrong_device):
        decoding.greedy_decode(model, SRC, LENS)
    with pytest.raises(ValueError, match=wrong_device):
        decoding.beam_search(model, SRC, LENS, beam_size=2)
    with pytest.raises(ValueError, match=wrong_device):  # the one check of a batch is the model's door
        model.encode(SRC, LENS)


def test_a_model_without_parameters_is_not_device_checked():
    model = ScriptedModel([[5], [6]], with_params=False)
    out = decoding.greedy_decode(model, SRC, LENS)
    assert out.hypotheses(model.eos_id) == [[5], [6]]


def test_data_cache_dir_that_is_a_file_is_a_value_error(tmp_path, monkeypatch):
    a_file = tmp_path / "not_a_folder"
    a_file.write_text("x")
    for value in (a_file, a_file / "below"):
        monkeypatch.setenv("COURSE_DATA_DIR", str(value))
        with pytest.raises(ValueError, match="COURSE_DATA_DIR"):
            data.data_cache_dir()
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "cache"))
    assert data.data_cache_dir() == (tmp_path / "cache").resolve() and (tmp_path / "cache").is_dir()


@pytest.mark.parametrize("tokens", ["abc", None, ["a", "b"], [1.5], [True]])
def test_hypothesis_refuses_tokens_that_are_not_integer_ids(tokens):
    with pytest.raises(TypeError, match="Hypothesis.tokens"):
        decoding.Hypothesis(tokens, 0.0, 0.0, None, True)


def test_hypothesis_refuses_a_non_bool_finished():
    with pytest.raises(TypeError, match="finished"):
        decoding.Hypothesis([4], 0.0, 0.0, None, "yes")
    assert decoding.Hypothesis((4, np.int64(5)), 0.0, 0.0, None, False).length == 2
