"""Lesson 04's exercise checkers, run on wrong answers: each plausible mistake must be caught.

The checkers live in the notebook; each test executes the checker's cell (without its
``check_exercise`` call) and feeds it the reference answer and the mistakes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

NOTEBOOK = Path(__file__).resolve().parents[1] / "lessons" / "04_luong_attention.ipynb"


def _checker(cell_id: str, name: str):
    cells = {c.get("id"): c for c in json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]}
    source = "".join(cells[cell_id]["source"]).split("check_exercise(")[0].split("\ndef attention_on_ideal")[0]
    namespace = {"torch": torch}
    exec(source, namespace)
    return namespace[name]


def _gaussian(denominator):
    def weights(align, p_t, D):
        positions = torch.arange(len(align), dtype=torch.float32)
        return align * torch.exp(-(positions - p_t) ** 2 / denominator(D))
    return weights


def test_local_p_checker_accepts_the_formula_of_eq_10():
    _checker("32a12122", "check_local_p_weights")(_gaussian(lambda D: 2 * (D / 2) ** 2))


@pytest.mark.parametrize("denominator", [
    lambda D: D,                  # 2 sigma instead of 2 sigma^2 (equal to 2 sigma^2 at D = 2)
    lambda D: (D / 2) ** 2 + 1,   # equal at D = 2 only
    lambda D: 2 * (D // 2) ** 2,  # integer division: sigma = 2 for D = 5
    lambda D: 2 ** (D / 2),       # equal at D = 2 only
    lambda D: (D / 2) ** 2,       # sigma^2 without the 2
    lambda D: 2 * D ** 2,         # sigma = D
], ids=["2sigma", "sigma2+1", "floor-div", "2^sigma", "sigma2", "sigma=D"])
def test_local_p_checker_rejects_look_alikes(denominator):
    with pytest.raises(AssertionError):
        _checker("32a12122", "check_local_p_weights")(_gaussian(denominator))


def test_local_p_checker_rejects_renormalised_weights():
    def renormalised(align, p_t, D):
        w = _gaussian(lambda D: 2 * (D / 2) ** 2)(align, p_t, D)
        return w / w.sum()
    with pytest.raises(AssertionError):
        _checker("32a12122", "check_local_p_weights")(renormalised)


def test_sort_alignment_checker_wants_ties_in_source_order():
    check = _checker("1a296a41", "check_ideal_sort_alignment")
    check(lambda tokens: sorted(range(len(tokens)), key=lambda s: tokens[s]))
    with pytest.raises(AssertionError):   # ties taken from the right
        check(lambda tokens: sorted(range(len(tokens)), key=lambda s: (tokens[s], -s)))
    with pytest.raises(AssertionError):   # the rank of each source symbol instead of the position of each output
        check(lambda tokens: [sorted(range(len(tokens)), key=lambda s: tokens[s]).index(s) for s in range(len(tokens))])
