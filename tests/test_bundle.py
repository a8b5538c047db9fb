"""course_lib.bundle: save a trained model as one file, load it back, refuse bad files.

Tiny models trained for a few steps on the toy date corpus, with word (spaCy), character
and subword tokenisers; every model class of the course.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from course_lib.bundle import (BUNDLE_FORMAT, BUNDLE_VERSION, BundleError, Translator, load_bundle,
                               save_bundle)
from course_lib.data import (Tokenizer, char_tokenize, make_date_corpus, make_loader, prepare_pairs,
                             train_subword_tokenizer)
from course_lib.models import (BahdanauConfig, BahdanauSeq2Seq, GNMTConfig, GNMTSeq2Seq, LuongConfig,
                               LuongSeq2Seq, VanillaConfig, VanillaSeq2Seq)

SENTENCES = ["3 march 1998", "the 21st of june 2004", "12/05/77"]


def make_data(kind: str):
    pairs = make_date_corpus(160, seed=1)
    if kind == "word":
        src_tok, tgt_tok = Tokenizer("en"), Tokenizer("en")
    elif kind == "char":
        src_tok = tgt_tok = char_tokenize
    else:
        texts = [s for s, _ in pairs[:120]] + [t for _, t in pairs[:120]]
        src_tok = tgt_tok = train_subword_tokenizer(texts, vocab_size=150, min_frequency=1, cache=False)
    return prepare_pairs(pairs[:120], pairs[120:140], pairs[140:], src_tok, tgt_tok)


MODELS = {
    "vanilla": lambda s, t: VanillaSeq2Seq(s, t, VanillaConfig(emb_dim=8, hidden_dim=12, num_layers=1, dropout=0.0)),
    "bahdanau": lambda s, t: BahdanauSeq2Seq(s, t, BahdanauConfig(emb_dim=8, enc_hidden_dim=8, dec_hidden_dim=12,
                                                                   attn_dim=8, dropout=0.0)),
    "luong": lambda s, t: LuongSeq2Seq(s, t, LuongConfig(emb_dim=8, hidden_dim=12, num_layers=2, dropout=0.0)),
    "luong-local-p": lambda s, t: LuongSeq2Seq(s, t, LuongConfig(emb_dim=8, hidden_dim=12, num_layers=1, dropout=0.0,
                                                                 attention="local-p", window=2)),
    "gnmt": lambda s, t: GNMTSeq2Seq(s, t, GNMTConfig(emb_dim=8, hidden_dim=12, attn_dim=8, enc_layers=3,
                                                      dec_layers=3, dropout=0.0)),
}

_DATA: dict = {}


def data_for(kind):
    if kind not in _DATA:
        _DATA[kind] = make_data(kind)
    return _DATA[kind]


def trained(name: str, kind: str, steps: int = 6):
    data = data_for(kind)
    torch.manual_seed(0)
    model = MODELS[name](len(data.src_vocab), len(data.tgt_vocab))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    loader = make_loader(data.train, batch_size=16, seed=0)
    model.train()
    for step, batch in zip(range(steps), loader):
        out = model(batch.src, batch.src_lens, batch.tgt)
        loss = F.cross_entropy(out.logits.reshape(-1, out.logits.size(-1)), batch.tgt[:, 1:].reshape(-1),
                               ignore_index=0)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval(), data


def same_translations(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.tokens == y.tokens
        assert x.score == pytest.approx(y.score, abs=1e-5)
        if x.attn_weights is None:
            assert y.attn_weights is None
        else:
            assert torch.allclose(x.attn_weights, y.attn_weights, atol=1e-6)
        assert [t.tokens for t in x.alternatives] == [t.tokens for t in y.alternatives]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A Bahdanau model on words, saved once; returns (path, model, data)."""
    model, data = trained("bahdanau", "word")
    path = save_bundle(tmp_path_factory.mktemp("b") / "bahdanau.zip", model, data,
                       metrics={"bleu": 12.5, "chrf": 40.0}, note="test")
    return path, model, data


# --- round trips -----------------------------------------------------------------------

@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("kind", ["word", "subword"])
def test_round_trip_translates_like_the_original(tmp_path, name, kind):
    from course_lib.decoding import translate

    model, data = trained(name, kind)
    path = save_bundle(tmp_path / "m.zip", model, data, metrics={"bleu": 1.0})
    tr = load_bundle(path)
    assert isinstance(tr, Translator)
    assert not tr.model.training
    assert type(tr.model) is type(model)
    assert tr.src_vocab == data.src_vocab and tr.tgt_vocab == data.tgt_vocab
    for key, value in model.state_dict().items():
        assert torch.equal(value, tr.model.state_dict()[key]), key
    for beam in (1, 3):
        n_best = 2 if beam > 1 else 1
        alpha = 0.6 if beam > 1 else 0.0
        ref = translate(model, SENTENCES, data.src_tokenizer, data.src_vocab, data.tgt_vocab,
                        beam_size=beam, alpha=alpha, n_best=n_best)
        same_translations(ref, tr.translate(SENTENCES, beam_size=beam, alpha=alpha, n_best=n_best))
    assert tr.translate_text(SENTENCES, beam_size=3) == [
        data.tgt_tokenizer.detokenize(t.tokens) for t in
        translate(model, SENTENCES, data.src_tokenizer, data.src_vocab, data.tgt_vocab, beam_size=3, alpha=0.6)]
    assert tr.tgt_tokenizer(SENTENCES[0]) == data.tgt_tokenizer(SENTENCES[0])


def test_round_trip_char_tokenizer_and_info(tmp_path):
    model, data = trained("luong", "char")
    path = save_bundle(tmp_path / "c.zip", model, data, metrics={"bleu": 3.25, "by_len": [1, 2]}, note="toy")
    tr = load_bundle(path, device="cpu")
    assert tr.src_tokenizer is char_tokenize
    assert tr.metrics == {"bleu": 3.25, "by_len": [1, 2]}
    info = tr.info
    assert info["model_class"] == "LuongSeq2Seq"
    assert info["parameters"] == sum(p.numel() for p in model.parameters())
    assert info["library_version"] and info["torch_version"] == torch.__version__
    assert info["format_version"] == BUNDLE_VERSION and info["note"] == "toy"
    text = tr.describe()
    assert "LuongSeq2Seq" in text and "bleu = 3.25" in text and "characters" in text


def test_bundle_is_one_zip_with_a_manifest(saved):
    path, model, data = saved
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
    assert {"manifest.json", "weights.pt", "src_vocab.json", "tgt_vocab.json"} <= names
    assert manifest["format"] == BUNDLE_FORMAT and manifest["version"] == BUNDLE_VERSION
    assert manifest["tokenizers"]["src"] == {"kind": "spacy", "lang": "en", "lower": True}
    assert manifest["metrics"] == {"bleu": 12.5, "chrf": 40.0}
    assert manifest["config"]["dec_hidden_dim"] == 12


def test_metrics_numpy_and_tensor_scalars_are_stored_as_numbers(tmp_path, saved):
    np = pytest.importorskip("numpy")
    _, model, data = saved
    tr = load_bundle(save_bundle(tmp_path / "n.zip", model, data,
                                 metrics={"bleu": np.float32(2.5), "n": np.int64(3), "loss": torch.tensor(1.5)}))
    assert tr.metrics == {"bleu": 2.5, "n": 3, "loss": 1.5}
    assert all(type(v) in (int, float) for v in tr.metrics.values())


def test_translate_refuses_bad_input(saved):
    tr = load_bundle(saved[0])
    with pytest.raises(ValueError):
        tr.translate([])
    with pytest.raises(ValueError):
        tr.translate(["   "])
    with pytest.raises(TypeError):
        tr.translate([3])
    with pytest.raises(ValueError):
        tr.translate("3 may 1999", beam_size=0)
    with pytest.raises(ValueError):
        tr.translate("3 may 1999", beam_size=2, n_best=3)
    # a bare str is one sentence, not characters
    assert len(tr.translate("3 may 1999", beam_size=2)) == 1


# --- refused saves -----------------------------------------------------------------------

def test_save_refuses_a_model_corpus_mismatch_before_writing(tmp_path, saved):
    _, model, _ = saved
    other = data_for("char")
    target = tmp_path / "x.zip"
    with pytest.raises(ValueError, match="mismatch"):
        save_bundle(target, model, other)
    assert not target.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bad, exc", [
    (dict(model="not a model"), TypeError),
    (dict(corpus=object()), TypeError),
    (dict(metrics=[1, 2]), TypeError),
    (dict(metrics={"bleu": object()}), ValueError),
    (dict(metrics={1: 2.0}), ValueError),
    (dict(note=3), TypeError),
])
def test_save_refuses_bad_arguments(tmp_path, saved, bad, exc):
    _, model, data = saved
    args = dict(model=model, corpus=data, metrics=None, note="")
    args.update(bad)
    with pytest.raises(exc):
        save_bundle(tmp_path / "x.zip", **args)
    assert list(tmp_path.iterdir()) == []


def test_save_refuses_a_custom_tokenizer(tmp_path, saved):
    _, model, data = saved
    from dataclasses import replace

    custom = replace(data, src_tokenizer=str.split)
    with pytest.raises(ValueError, match="tokenizer"):
        save_bundle(tmp_path / "x.zip", model, custom)
    assert list(tmp_path.iterdir()) == []


def test_save_to_a_folder_or_unwritable_place_fails_cleanly(tmp_path, saved):
    _, model, data = saved
    with pytest.raises(ValueError, match="folder"):
        save_bundle(tmp_path, model, data)
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(OSError):
        save_bundle(blocker / "sub" / "m.zip", model, data)  # parent is a file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a non-root POSIX user")
def test_save_to_a_read_only_folder_leaves_nothing(tmp_path, saved):
    _, model, data = saved
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(OSError, match="cannot write the bundle"):
            save_bundle(ro / "m.zip", model, data)
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o700)


def test_save_replaces_an_old_bundle_only_when_complete(tmp_path, saved):
    path, model, data = saved
    target = tmp_path / "m.zip"
    save_bundle(target, model, data, note="first")
    with pytest.raises(ValueError):
        save_bundle(target, model, data_for("char"))
    assert load_bundle(target).info["note"] == "first"
    save_bundle(target, model, data, note="second")
    assert load_bundle(target).info["note"] == "second"
    assert [p.name for p in tmp_path.iterdir()] == ["m.zip"]


# --- refused loads -----------------------------------------------------------------------

def _rewrite(src: Path, dst: Path, edit) -> Path:
    """Copy the bundle ``src`` to ``dst`` applying ``edit(name, bytes) -> bytes | None`` (None drops it)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            data = edit(name, zin.read(name))
            if data is not None:
                zout.writestr(name, data)
    return dst


def _manifest_edit(**changes):
    def edit(name, data):
        if name != "manifest.json":
            return data
        m = json.loads(data)
        m.update(changes)
        return json.dumps(m).encode()
    return edit


def _wrong_shape_weights(name, data):
    if name != "weights.pt":
        return data
    state = torch.load(io.BytesIO(data), weights_only=True)
    key = next(k for k in state if k.endswith("weight") and state[k].dim() == 2)
    state[key] = torch.zeros(state[key].shape[0] + 1, state[key].shape[1])
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def _pickled_code(name, data):
    if name != "weights.pt":
        return data
    buf = io.BytesIO()
    torch.save({"x": Path("evil")}, buf)  # not allowed by weights_only=True
    return buf.getvalue()


BAD_FILES = {
    "truncated": lambda src, dst: dst.write_bytes(src.read_bytes()[: src.stat().st_size // 2]) and dst,
    "random bytes": lambda src, dst: dst.write_bytes(os.urandom(4096)) and dst,
    "empty file": lambda src, dst: dst.write_bytes(b"") is not None and dst,
    "zip without manifest": lambda src, dst: _rewrite(src, dst, lambda n, d: None if n == "manifest.json" else d),
    "zip without weights": lambda src, dst: _rewrite(src, dst, lambda n, d: None if n == "weights.pt" else d),
    "other format version": lambda src, dst: _rewrite(src, dst, _manifest_edit(version=BUNDLE_VERSION + 1)),
    "not a bundle manifest": lambda src, dst: _rewrite(src, dst, _manifest_edit(format="something.else")),
    "unknown model class": lambda src, dst: _rewrite(src, dst, _manifest_edit(model_class="TransformerSeq2Seq")),
    "bad config": lambda src, dst: _rewrite(src, dst, _manifest_edit(config={"emb_dim": -1})),
    "config that does not fit the weights": lambda src, dst: _rewrite(
        src, dst, _manifest_edit(config={"emb_dim": 9, "enc_hidden_dim": 8, "dec_hidden_dim": 12, "attn_dim": 8,
                                         "dropout": 0.0, "init_from": "backward"})),
    "weights of a wrong shape": lambda src, dst: _rewrite(src, dst, _wrong_shape_weights),
    "weights that run code": lambda src, dst: _rewrite(src, dst, _pickled_code),
    "vocabulary of another size": lambda src, dst: _rewrite(
        src, dst, lambda n, d: json.dumps(json.loads(d)[:-1]).encode() if n == "src_vocab.json" else d),
    "damaged manifest json": lambda src, dst: _rewrite(src, dst, lambda n, d: b"{not json" if n == "manifest.json" else d),
    "unknown tokenizer kind": lambda src, dst: _rewrite(
        src, dst, _manifest_edit(tokenizers={"src": {"kind": "sentencepiece"}, "tgt": {"kind": "char"}})),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_file_gives_bundle_error_and_is_untouched(tmp_path, saved, case):
    src = saved[0]
    bad = BAD_FILES[case](src, tmp_path / "bad.zip")
    before = bad.read_bytes()
    with pytest.raises(BundleError) as info:
        load_bundle(bad)
    assert isinstance(info.value, ValueError)
    assert str(bad) in str(info.value)
    assert "\n" not in str(info.value)
    assert bad.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.zip"]


def test_corrupted_member_is_detected_by_crc(tmp_path, saved):
    raw = bytearray(saved[0].read_bytes())
    with zipfile.ZipFile(saved[0]) as zf:
        info = zf.getinfo("weights.pt")
    at = info.header_offset + 30 + len(info.filename) + 40  # inside the compressed weights
    raw[at] ^= 0xFF
    bad = tmp_path / "bad.zip"
    bad.write_bytes(bytes(raw))
    with pytest.raises(BundleError):
        load_bundle(bad)


def test_missing_file_folder_and_bad_arguments(tmp_path):
    with pytest.raises(BundleError, match="no such file"):
        load_bundle(tmp_path / "nope.zip")
    with pytest.raises(BundleError, match="folder"):
        load_bundle(tmp_path)
    with pytest.raises(TypeError):
        load_bundle(3)
    with pytest.raises(ValueError):
        load_bundle(tmp_path / "nope.zip", device="tpu")
    with pytest.raises(TypeError):
        load_bundle(tmp_path / "nope.zip", device=1.5)


# --- the translator widget and its pure frame ----------------------------------------------

def _find(widget, cls):
    if cls in getattr(widget, "_dom_classes", ()):
        return widget
    for child in getattr(widget, "children", ()):
        found = _find(child, cls)
        if found is not None:
            return found
    return None


def test_translator_frame_marks_the_chosen_hypothesis_and_draws_its_attention(saved):
    from course_lib.viz import InputTypeError, translator_frame

    tr = load_bundle(saved[0])
    result = tr.translate(S := SENTENCES[1], beam_size=4, n_best=3)[0]
    assert len(result.alternatives) == 2
    html0, png0 = translator_frame(result, 0, detokenize=tr.detokenize)
    html1, png1 = translator_frame(result, 1, detokenize=tr.detokenize)
    assert html0.count("<tr") == 4 and html0.count("class='chosen'") == 1
    assert html0 != html1 and png0 != png1
    assert png0[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"{result.score:.3f}" in html0 and f"{result.alternatives[0].score:.3f}" in html0
    assert translator_frame(result, 1, detokenize=tr.detokenize) == (html1, png1)  # deterministic
    for bad in (3, -1, 1.5, True):
        with pytest.raises(ValueError):
            translator_frame(result, bad)
    with pytest.raises(InputTypeError):
        translator_frame("a translation", 0)
    with pytest.raises(InputTypeError):
        translator_frame(result, 0, detokenize="x")
    assert S


def test_translator_widget_updates_with_text_and_sliders(saved):
    pytest.importorskip("ipywidgets")
    from course_lib import widgets

    box = widgets.translator(load_bundle(saved[0]), SENTENCES[0], beam_size=5, n_best=3)
    parts = {c: _find(box, f"translator-{c}") for c in
             ("text", "beam", "alpha", "beta", "choice", "nbest", "figure", "message")}
    assert None not in parts.values() and "translator" in box._dom_classes
    image, nbest, choice = parts["figure"], parts["nbest"], parts["choice"]
    assert choice.max == 3 and nbest.value.count("<tr") == 4
    first_png, first_table = image.value, nbest.value
    assert first_png[:4] == b"\x89PNG"
    choice.value = 2
    assert image.value != first_png, "choosing another hypothesis redraws the heatmap"
    assert nbest.value != first_table and nbest.value.count("class='chosen'") == 1
    parts["text"].value = SENTENCES[1]
    assert image.value not in (first_png, b"") and SENTENCES[1] != SENTENCES[0]
    at_text = nbest.value
    assert at_text != first_table
    parts["alpha"].value = 1.0
    assert "α = 1.0" in nbest.value
    parts["beta"].value = 0.5
    assert "β = 0.50" in nbest.value
    parts["beam"].value = 1
    assert "beam size 1" in nbest.value and choice.max == 1 and choice.disabled
    assert nbest.value.count("<tr") == 2
    parts["text"].value = "   "
    assert "type a sentence" in parts["message"].value and nbest.value == ""
    parts["text"].value = SENTENCES[2]
    assert parts["message"].value == "" and nbest.value.count("<tr") == 2


def test_translator_widget_from_a_path_and_without_attention(tmp_path, saved):
    pytest.importorskip("ipywidgets")
    from course_lib import widgets
    from course_lib.viz import InputTypeError

    box = widgets.translator(saved[0], "")
    assert "type a sentence" in _find(box, "translator-message").value
    model, data = trained("vanilla", "word", steps=1)
    box = widgets.translator(save_bundle(tmp_path / "v.zip", model, data), SENTENCES[0])
    assert _find(box, "translator-beta").disabled
    assert "no attention" in _find(box, "translator-message").value
    assert _find(box, "translator-nbest").value.count("<tr") == 4
    with pytest.raises(ValueError):
        widgets.translator(saved[0], SENTENCES[0], beam_size=11)
    with pytest.raises(ValueError):
        widgets.translator(saved[0], SENTENCES[0], alpha=-0.1)
    with pytest.raises(ValueError):
        widgets.translator(load_bundle(tmp_path / "v.zip"), SENTENCES[0], beta=0.2)
    with pytest.raises(InputTypeError):
        widgets.translator(42)
    with pytest.raises(InputTypeError):
        widgets.translator(saved[0], ["a", "list"])
    with pytest.raises(BundleError):
        widgets.translator(tmp_path / "missing.zip")


def test_translator_from_parts_refuses_bad_parts(saved):
    _, model, data = saved
    tr = Translator(model, data.src_vocab, data.tgt_vocab, data.src_tokenizer, data.tgt_tokenizer)
    assert tr.translate_text(SENTENCES[0], beam_size=2) == load_bundle(saved[0]).translate_text(SENTENCES[0], beam_size=2)
    char = data_for("char")
    with pytest.raises(TypeError):
        Translator("model", data.src_vocab, data.tgt_vocab, data.src_tokenizer, data.tgt_tokenizer)
    with pytest.raises(TypeError):
        Translator(model, data.src_vocab.itos, data.tgt_vocab, data.src_tokenizer, data.tgt_tokenizer)
    with pytest.raises(ValueError):
        Translator(model, char.src_vocab, data.tgt_vocab, data.src_tokenizer, data.tgt_tokenizer)
    with pytest.raises(TypeError):
        Translator(model, data.src_vocab, data.tgt_vocab, None, data.tgt_tokenizer)
    with pytest.raises(TypeError):
        Translator(model, data.src_vocab, data.tgt_vocab, data.src_tokenizer, str.split)
    with pytest.raises(TypeError):
        Translator(model, data.src_vocab, data.tgt_vocab, data.src_tokenizer, data.tgt_tokenizer, metrics=[1])
