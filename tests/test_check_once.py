"""Check once, at the door (issue 14): a search reads a batch's values once, in ``model.encode``;
``check_model_vocabs`` refuses vocabularies that are not the model's, special ids included."""

from __future__ import annotations

import sys

import pytest
import torch

from course_lib import decoding, utils
from course_lib.decoding.translate import check_model_vocabs
from course_lib.models import base
from tests.test_decoding import tiny_bahdanau, word_vocab

SRC = torch.tensor([[4, 5, 3], [6, 3, 0]])
LENS = torch.tensor([3, 2])


@pytest.mark.parametrize("search", [
    lambda m: decoding.greedy_decode(m, SRC, LENS, max_len=4),
    lambda m: decoding.beam_search(m, SRC, LENS, beam_size=3, max_len=4),
])
def test_a_search_reads_the_batch_values_once(search, monkeypatch):
    """The ids and the lengths are read on the host once per batch, by encode: not again by the search."""
    ids, lengths = [], []
    real_ids, real_mask = base._check_ids, utils.lengths_to_pad_mask
    monkeypatch.setattr(base, "_check_ids", lambda *a: ids.append(a[1]) or real_ids(*a))
    for module in [m for name, m in sys.modules.items() if name.startswith("course_lib")]:
        if getattr(module, "lengths_to_pad_mask", None) is real_mask:  # wherever it was imported
            monkeypatch.setattr(module, "lengths_to_pad_mask", lambda *a: lengths.append(1) or real_mask(*a))
    search(tiny_bahdanau(10))
    assert ids == ["src"] and len(lengths) == 1


@pytest.mark.parametrize("src, lens, match", [
    (SRC, torch.tensor([4, 2]), "length"),                 # longer than the padded source
    (SRC, torch.tensor([3]), "src_lens"),                  # one length for two sentences
    (torch.tensor([[4, 50, 3]]), torch.tensor([3]), "outside the vocabulary"),  # id 50 of 10
    (SRC.float(), LENS, "integers"),                       # float ids
    (SRC[0], torch.tensor([3]), "dimensions"),             # a 1-D source
    (SRC.tolist(), LENS, "torch.Tensor"),                  # a list, not a tensor
    (SRC, LENS.tolist(), "torch.Tensor"),                  # lengths as a list
])
def test_searches_still_refuse_a_bad_batch(src, lens, match):
    for search in (decoding.greedy_decode, decoding.beam_search):
        with pytest.raises(ValueError, match=match):
            search(tiny_bahdanau(10), src, lens)


def test_default_max_len_is_applied_after_the_batch_check():
    out = decoding.greedy_decode(tiny_bahdanau(10), SRC, LENS)
    assert out.tokens.size(1) <= decoding.default_max_len(LENS)
    beam = decoding.beam_search(tiny_bahdanau(10), SRC, LENS, beam_size=2)
    assert all(len(h.tokens) <= decoding.default_max_len(LENS) for hs in beam.hypotheses for h in hs)


def test_special_ids_that_differ_from_the_target_vocabulary_are_refused():
    model, vocab = tiny_bahdanau(10), word_vocab(10)
    check_model_vocabs(model, vocab, vocab)  # the model's own: no error
    model.eos_id = 5   # the model would stop at another token than the vocabulary's <eos>
    with pytest.raises(ValueError, match=r"mismatch: eos_id=5 but <eos> is id 3"):
        check_model_vocabs(model, vocab, vocab)
    with pytest.raises(ValueError, match="mismatch"):
        decoding.translate(model, ["a b"], str.split, vocab, vocab)


def test_a_vocabulary_of_another_size_names_its_side():
    model = tiny_bahdanau(10)
    with pytest.raises(ValueError, match="tgt_vocab has 12 tokens but the model was built for 10"):
        check_model_vocabs(model, word_vocab(10), word_vocab(12))
    with pytest.raises(TypeError, match="src_vocab must be a course_lib.data.Vocab"):
        check_model_vocabs(model, ["<pad>"], word_vocab(10))
