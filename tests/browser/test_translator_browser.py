"""The translator widget (``course_lib.widgets.translator``) in a real browser.

Independent of the lessons' outputs: the test writes a small notebook that trains a tiny
Bahdanau model for a few seconds on the generated date corpus, saves it as a bundle
(``course_lib.bundle.save_bundle``) and shows ``widgets.translator(path, ...)``. In JupyterLab
+ headless Chromium it then checks that

- the n-best header follows the beam size, α (length) and β (coverage) sliders;
- the "show #" slider draws the attention heatmap of another hypothesis (new picture);
- a typed sentence gives a new n-best list and heatmap, keeping the settings.

Screenshots go to ``$COURSE_ARTIFACTS_DIR`` (``translator_*.png``). See ``browser_helpers.py``.
"""

from __future__ import annotations

import re

import pytest

from browser_helpers import (
    Slider,
    notebook_from_cells,
    cell_output,
    image_hash,
    image_loaded,
    lesson_in_browser,
    text_box,
    type_into,
    wait_for_new_image,
    wait_until,
)

pytestmark = pytest.mark.browser

HEADER_RE = re.compile(r"(\d+)-best \(beam size (\d+), α = ([\d.]+), β = ([\d.]+)\)")

CELLS = [
    "%matplotlib inline\n"
    "import torch\n"
    "import torch.nn.functional as F\n"
    "from course_lib import widgets\n"
    "from course_lib.bundle import save_bundle\n"
    "from course_lib.data import Tokenizer, make_date_corpus, make_loader, prepare_pairs\n"
    "from course_lib.models import BahdanauConfig, BahdanauSeq2Seq\n"
    "torch.set_num_threads(1)\n"
    "pairs = make_date_corpus(400, seed=1)\n"
    "data = prepare_pairs(pairs[:360], pairs[360:380], pairs[380:], Tokenizer('en'), Tokenizer('en'))\n"
    "torch.manual_seed(0)\n"
    "model = BahdanauSeq2Seq(len(data.src_vocab), len(data.tgt_vocab), BahdanauConfig(\n"
    "    emb_dim=16, enc_hidden_dim=16, dec_hidden_dim=24, attn_dim=16, dropout=0.0))\n"
    "opt = torch.optim.Adam(model.parameters(), lr=1e-2)\n"
    "model.train()\n"
    "for epoch in range(2):\n"
    "    for batch in make_loader(data.train, batch_size=32, seed=epoch):\n"
    "        out = model(batch.src, batch.src_lens, batch.tgt)\n"
    "        loss = F.cross_entropy(out.logits.reshape(-1, out.logits.size(-1)), batch.tgt[:, 1:].reshape(-1),\n"
    "                               ignore_index=0)\n"
    "        opt.zero_grad(); loss.backward(); opt.step()\n"
    "model.eval()\n"
    "path = save_bundle('runs/dates.bundle.zip', model, data, note='browser test')\n"
    "print('saved', path, 'loss', round(float(loss.detach()), 3))",
    "widgets.translator(path, '3 march 1998', beam_size=3, alpha=0.6, beta=0.0, n_best=3)",
]


def test_translator_widget(tmp_path):
    source = notebook_from_cells(CELLS, tmp_path / "translator_widget.ipynb")
    with lesson_in_browser(source, tmp_path, "translator", run_timeout=300) as lp:
        out = cell_output(lp.page, "widgets.translator(")
        size, alpha, beta, choice = (Slider(out, label) for label in ("beam size", "α (length)", "β (coverage)",
                                                                      "show #"))
        nbest, figure = out.locator(".translator-nbest"), out.locator("img.translator-figure")
        wait_until(lambda: HEADER_RE.search(nbest.inner_text()), 60, "the n-best list")
        wait_until(lambda: image_loaded(figure), 30, "the heatmap")

        def header():
            n, k, a, b = HEADER_RE.search(nbest.inner_text()).groups()
            return int(n), int(k), float(a), float(b)

        n0, k0, a0, b0 = header()
        assert (k0, a0, b0) == (3, 0.6, 0.0) == (size.value(), alpha.value(), beta.value())
        assert 1 <= n0 <= 3
        lp.shot(out, "start")

        # "show #": another hypothesis' heatmap (a hypothesis with other words draws other rows)
        if n0 >= 2:
            h1 = image_hash(figure)
            choice.press("ArrowRight")
            choice.wait_value(2)
            wait_for_new_image(figure, h1, 30, "the heatmap of hypothesis #2")
            lp.shot(out, "second_hypothesis")

        size.press("ArrowRight")
        size.wait_value(4)
        wait_until(lambda: header()[1] == 4, 60, "the n-best list for beam size 4")
        alpha.press("ArrowLeft")
        alpha.wait_value(0.5)
        wait_until(lambda: abs(header()[2] - 0.5) < 1e-9, 60, "the n-best list for α = 0.5")
        assert not beta.disabled(), "β is disabled, but a Bahdanau model has attention"
        beta.press("ArrowRight")
        beta.wait_value(0.05)
        wait_until(lambda: abs(header()[3] - 0.05) < 1e-9, 60, "the n-best list for β = 0.05")

        before_text, before_fig = nbest.inner_text(), image_hash(figure)
        type_into(text_box(out, "source:"), "the 21st of june 2004")
        wait_until(lambda: nbest.inner_text() != before_text, 60, "a new n-best list for the typed sentence")
        wait_for_new_image(figure, before_fig, 30, "the heatmap of the typed sentence")
        assert header()[1:] == (4, 0.5, 0.05), "typing a sentence must keep the settings"
        lp.shot(out, "typed")
        lp.mark("translator")
