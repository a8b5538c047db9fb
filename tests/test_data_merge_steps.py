"""Tests for course_lib.data.merge_steps: a word's BPE segmentation after each merge."""

from __future__ import annotations

import pytest

from course_lib.checks import InputTypeError
from course_lib.data import UNK, merge_steps, train_subword_tokenizer

TEXT = (
    "the cat sat on the mat . the cats were starring at the stars , and a star started to shine . "
    "don't stop : lower lowest newer newest wider widest slower slowest . Ein Mann mit einem Hut ."
).split(" ")
TEXTS = [" ".join(TEXT[i:] + TEXT[:i]) for i in range(len(TEXT))]


@pytest.fixture(scope="module")
def sp():
    return train_subword_tokenizer(TEXTS, vocab_size=200, min_frequency=1, cache=False)


@pytest.mark.parametrize("word", sorted(set(TEXT)) + ["starring", "unseen", "Zwölf", "don't", "a"])
def test_steps_end_with_the_tokenizers_own_pieces(sp, word):
    steps = merge_steps(sp, word)
    assert steps[-1] == sp(word)  # the stepper and the tokenizer agree
    marked = "".join(steps[0])
    assert steps[0][0] == "▁" and all(len(p) == 1 or p == UNK for p in steps[0])  # characters first
    for before, after in zip(steps, steps[1:]):
        assert len(after) == len(before) - 1  # one merge per step
    if UNK not in steps[0]:
        assert all("".join(s) == marked for s in steps)  # merging never changes the text


def test_merges_apply_in_rank_order(sp):
    import json

    merges = [tuple(m) if not isinstance(m, str) else tuple(m.split(" "))
              for m in json.loads(sp._hf.to_str())["model"]["merges"]]
    rank = {m: r for r, m in enumerate(merges)}
    steps = merge_steps(sp, "starring")
    used = []
    for before, after in zip(steps, steps[1:]):
        i = next(i for i, (a, b) in enumerate(zip(before, after)) if a != b)
        used.append(rank[(before[i], before[i + 1])])
    assert used == sorted(used) and len(used) == len(steps) - 1


def test_lower_and_stripped(sp):
    lower = train_subword_tokenizer(TEXTS, vocab_size=200, min_frequency=1, lower=True, cache=False)
    assert merge_steps(lower, "STARS")[-1] == lower("STARS") == lower("stars")
    assert merge_steps(sp, "  cat ") == merge_steps(sp, "cat")


@pytest.mark.parametrize(
    "tok, word, error",
    [
        (None, "cat", InputTypeError),
        ("sp", 3, InputTypeError),
        ("sp", ["cat"], InputTypeError),
        ("sp", "", ValueError),
        ("sp", "   ", ValueError),
        ("sp", "two words", ValueError),
        ("sp", "tab\tseparated", ValueError),
    ],
)
def test_bad_input(sp, tok, word, error):
    with pytest.raises(error, match="merge_steps|word|SubwordTokenizer"):
        merge_steps(sp if tok == "sp" else tok, word)


def test_on_the_multi30k_model(mirror_root):
    from course_lib import data as D

    pairs = D.load_multi30k("train", "de", "en")[:1000]
    texts = [s for s, _ in pairs] + [t for _, t in pairs]
    sp = train_subword_tokenizer(texts, vocab_size=800, cache=False)
    words = sorted({w for t in texts[:300] for w in t.split()})
    for word in words:
        steps = merge_steps(sp, word)
        assert steps[-1] == sp(word), word
        assert [len(s) for s in steps] == list(range(len(steps[0]), len(steps[0]) - len(steps), -1))
