"""A translator you keep: save a trained model as one self-contained file and load it back.

A **bundle** is one ``.zip`` file, written atomically, with everything needed to translate and
nothing that runs code when opened: ``manifest.json`` (format, model class and configuration,
special ids, tokenisers, metrics, note, versions), ``weights.pt`` (read with
``torch.load(weights_only=True)``), both vocabularies and, for a subword side, its BPE model
(Sennrich et al. 2016). ``save_bundle("m.zip", model, data, metrics={"bleu": 31.2})``, then
``load_bundle("m.zip").translate_text("Ein Mann fährt Fahrrad.")`` or, from a shell,
``course-translate m.zip "Ein Mann fährt Fahrrad."`` (:mod:`course_lib.translate`).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch

from . import __version__
from .checks import InputTypeError, check_instance, check_text, check_tokens
from .data import SubwordTokenizer, Tokenizer, Vocab, char_tokenize
from .data.text import CharTokenizer
from .decoding import Translation, translate as _translate
from .decoding.translate import check_model_vocabs
from .models import (BahdanauConfig, BahdanauSeq2Seq, GNMTConfig, GNMTSeq2Seq, LuongConfig, LuongSeq2Seq, Seq2Seq,
                     VanillaConfig, VanillaSeq2Seq)
from .utils import as_device, atomic_write, num_parameters, require

__all__ = ["BUNDLE_FORMAT", "BUNDLE_VERSION", "BundleError", "Translator", "save_bundle", "load_bundle",
           "MODEL_CLASSES"]

BUNDLE_FORMAT = "course_lib.bundle"  # the manifest's "format"
BUNDLE_VERSION = 1  # the format version this library writes and reads

MODEL_CLASSES = {cls.__name__: (cls, config) for cls, config in (
    (VanillaSeq2Seq, VanillaConfig), (BahdanauSeq2Seq, BahdanauConfig), (LuongSeq2Seq, LuongConfig),
    (GNMTSeq2Seq, GNMTConfig))}
"""Model classes a bundle can hold: class name -> (model class, config dataclass)."""

_SIDES = ("src", "tgt")
_HINT = "save the model again with course_lib.bundle.save_bundle (lessons 03-05 show how)"


class BundleError(ValueError):
    """A file that is not a usable bundle; the one-line message names the file and what to do."""


def _unwrap(model):
    """The plain model inside a DDP / DataParallel or ``torch.compile`` wrapper."""
    for _ in range(3):
        model = getattr(model, "module", None) or getattr(model, "_orig_mod", None) or model
    return model


def _tokenizer_settings(tok: Any, side: str) -> Dict[str, Any]:
    if isinstance(tok, SubwordTokenizer):
        return {"kind": "subword", "file": f"{side}_subwords.json", "settings": dict(tok.settings),
                "vocab_size": tok.vocab_size}
    if isinstance(tok, Tokenizer):
        return {"kind": "spacy", "lang": tok.lang, "lower": tok.lower}
    require(isinstance(tok, CharTokenizer), f"cannot store the {side} tokenizer {tok!r:.30}: use data.Tokenizer, "
            "SubwordTokenizer or char_tokenize")
    return {"kind": "char"}


def _plain(value: Any, where: str) -> Any:
    """``value`` as plain JSON data; NumPy scalars and one-element tensors become numbers."""
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _plain(v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, np.generic) or (isinstance(value, torch.Tensor) and value.numel() == 1):
        value = value.item()
    require(value is None or isinstance(value, (bool, str, int, float)), f"{where} must hold plain numbers, "
            f"strings, lists or str-keyed dicts, got {value!r:.60}; convert it (e.g. float(x)) first")
    return value


def _check_parts(model, vocabs: Sequence[Any], tokenizers: Sequence[Any]) -> None:
    """The checks :func:`save_bundle` and :class:`Translator` share: types, vocabulary sizes, special ids."""
    given = ", ".join(type(x).__name__ for x in (model, *vocabs, *tokenizers))
    require(isinstance(model, Seq2Seq) and all(isinstance(v, Vocab) for v in vocabs) and all(map(callable, tokenizers))
            and callable(getattr(tokenizers[1], "detokenize", None)), "need a models.Seq2Seq, two data.Vocab and two "
            f"tokenizers (the target one with .detokenize), as in its TranslationData; got {given}", InputTypeError)
    check_model_vocabs(model, *vocabs)


def save_bundle(path: str | os.PathLike, model, corpus, metrics: Optional[Dict[str, Any]] = None,
                note: str = "") -> Path:
    """Save a trained model, its vocabularies and tokenisers as one bundle file, atomically; returns its Path.

    ``model``: one of :data:`MODEL_CLASSES` (a DDP or ``torch.compile`` wrapper is unwrapped);
    ``corpus``: the :class:`~course_lib.data.TranslationData` it was trained on; ``metrics``: what it
    reached, e.g. ``{"bleu": 31.2}`` (plain data; NumPy and tensor scalars are converted).

    Raises:
        InputTypeError (a TypeError): an argument of a wrong type; ``path`` empty or a folder.
        ValueError: a model/corpus mismatch, a tokeniser that cannot be stored, metrics that are not
            plain data. OSError: the write failed (nothing is left behind).
    """
    require(isinstance(path, (str, os.PathLike)) and str(path).strip() and not Path(path).is_dir(),
            f"path must name the file to write (a str or Path, not a folder), got {path!r:.40}", InputTypeError)
    model = _unwrap(model)
    name = type(model).__name__
    require(name in MODEL_CLASSES and isinstance(model, MODEL_CLASSES[name][0]),
            f"save_bundle can store a {', '.join(MODEL_CLASSES)}, got {name}", InputTypeError)
    check_text(note, "note")
    require(metrics is None or isinstance(metrics, dict), "metrics must be a dict, e.g. {'bleu': 31.2}", InputTypeError)
    metrics = _plain(metrics or {}, "metrics")
    vocabs = [getattr(corpus, f"{side}_vocab", None) for side in _SIDES]
    toks = [getattr(corpus, f"{side}_tokenizer", None) for side in _SIDES]
    _check_parts(model, vocabs, toks)
    tokenizers = {side: _tokenizer_settings(tok, side) for side, tok in zip(_SIDES, toks)}
    path = Path(path)

    manifest = {
        "format": BUNDLE_FORMAT, "version": BUNDLE_VERSION, "model_class": name,
        "config": dataclasses.asdict(model.config),
        "src_vocab_size": model.src_vocab_size, "tgt_vocab_size": model.tgt_vocab_size,
        "special_ids": {"pad_id": model.pad_id, "sos_id": model.sos_id, "eos_id": model.eos_id},
        "parameters": num_parameters(model, trainable_only=False), "tokenizers": tokenizers,
        "metrics": metrics, "note": note, "library_version": __version__, "torch_version": torch.__version__,
        "saved_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    weights = io.BytesIO()
    torch.save({k: v.detach().cpu().clone() for k, v in model.state_dict().items()}, weights)
    files = {"manifest.json": manifest, "src_vocab.json": vocabs[0].itos, "tgt_vocab.json": vocabs[1].itos}
    files.update({s["file"]: tok.__getstate__() for s, tok in zip(tokenizers.values(), toks) if s["kind"] == "subword"})

    def write(handle) -> None:
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("weights.pt", weights.getvalue())
            for member, payload in files.items():
                zf.writestr(member, json.dumps(payload, indent=2 if member == "manifest.json" else None,
                                               ensure_ascii=False).encode("utf-8"))

    try:
        return atomic_write(path, write)
    except OSError as err:
        raise OSError(err.errno, f"cannot write the bundle {path}: {err.strerror or err}; choose a writable folder") from err


class Translator:
    """A model in eval mode with its vocabularies and tokenisers: what :func:`load_bundle` returns.

    Built from parts too: ``Translator(model, data.src_vocab, data.tgt_vocab, data.src_tokenizer,
    data.tgt_tokenizer)``. ``metrics``: stored with the bundle; ``info``: model class, configuration,
    sizes, tokenisers, versions, note, path, device.

    Raises (constructor):
        InputTypeError (a TypeError): a part of a wrong type (the target tokeniser needs ``.detokenize``).
        ValueError: a vocabulary's size or special ids (``pad_id``, ``sos_id``, ``eos_id``) differ from the model's.
    """

    def __init__(self, model, src_vocab: Vocab, tgt_vocab: Vocab, src_tokenizer, tgt_tokenizer,
                 metrics: Optional[Dict[str, Any]] = None, info: Optional[Dict[str, Any]] = None):
        _check_parts(model, (src_vocab, tgt_vocab), (src_tokenizer, tgt_tokenizer))
        require(isinstance(metrics, (dict, type(None))) and isinstance(info, (dict, type(None))),
                f"metrics and info must be dicts or None, got {metrics!r:.30} and {info!r:.30}", InputTypeError)
        self.model = model.eval()
        self.src_vocab, self.tgt_vocab = src_vocab, tgt_vocab
        self.src_tokenizer, self.tgt_tokenizer = src_tokenizer, tgt_tokenizer
        self.metrics = dict(metrics or {})
        self.info = dict(info or {})

    @property
    def device(self) -> torch.device:
        """The device the model's weights are on."""
        return self.model.device

    def translate(self, sentences: str | Sequence[str], beam_size: int = 5, alpha: float = 0.6, beta: float = 0.0,
                  n_best: int = 1, max_len: Optional[int] = None) -> List[Translation]:
        """Translate raw sentences (a ``str`` or a list) by beam search: a ``decoding.Translation`` each.

        Wu et al. 2016, sec. 7, eq. 14: ``alpha`` is the length normalisation, ``beta`` the coverage
        penalty (greedy: ``beam_size=1, alpha=0``); the ``n_best - 1`` runners-up are in ``.alternatives``.

        Raises:
            ValueError, TypeError: as :func:`course_lib.decoding.translate`.
        """
        with torch.no_grad():
            return _translate(self.model, sentences, self.src_tokenizer, self.src_vocab, self.tgt_vocab,
                              max_len=max_len, beam_size=beam_size, alpha=alpha, beta=beta, n_best=n_best)

    def detokenize(self, tokens: Sequence[str]) -> str:
        """Target tokens (e.g. ``Translation.tokens``) -> text.

        Raises:
            InputTypeError (a TypeError): a bare str, not a list, or non-str items.
        """
        return self.tgt_tokenizer.detokenize(check_tokens(tokens, "tokens"))

    def translate_text(self, sentences: str | Sequence[str], beam_size: int = 5, alpha: float = 0.6,
                       beta: float = 0.0, max_len: Optional[int] = None) -> List[str]:
        """Like :meth:`translate`, but the best translation of each sentence as text (same errors)."""
        return [self.detokenize(t.tokens) for t in
                self.translate(sentences, beam_size=beam_size, alpha=alpha, beta=beta, max_len=max_len)]

    def describe(self) -> str:
        """A few lines saying what the bundle holds and the metrics it reached."""
        i = self.info

        def tok(side):
            t = i.get("tokenizers", {}).get(side, {})
            return {"spacy": f"spaCy blank '{t.get('lang')}' words" + (" (lower-cased)" if t.get("lower") else ""),
                    "subword": f"BPE subwords ({t.get('vocab_size')} pieces)", "char": "characters"}.get(
                t.get("kind"), str(t.get("kind", "?")))

        rows = [("bundle", i.get("path", "?")), ("model", f"{i.get('model_class')} ({i.get('parameters', 0):,} "
                                                          "parameters)"),
                ("config", json.dumps(i.get("config", {}))),
                ("source", f"{tok('src')}, vocabulary {i.get('src_vocab_size')}"),
                ("target", f"{tok('tgt')}, vocabulary {i.get('tgt_vocab_size')}"),
                ("saved", f"{i.get('saved_at', '?')} with course_lib {i.get('library_version', '?')}, "
                          f"torch {i.get('torch_version', '?')}"), ("note", i.get("note")),
                ("metrics", ", ".join(f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}"
                                      for k, v in self.metrics.items()) or "(none stored)")]
        return "\n".join(f"{key + ':':<12} {value}" for key, value in rows if value)

    def __repr__(self) -> str:
        return (f"Translator({self.info.get('model_class', type(self.model).__name__)}, "
                f"src_vocab={len(self.src_vocab)}, tgt_vocab={len(self.tgt_vocab)}, metrics={self.metrics})")


def _stage(what: str, fn, *args, **kwargs):
    """``fn(*args, **kwargs)``, any failure becoming ``ValueError("<what> (<the error>)")``."""
    try:
        return fn(*args, **kwargs)
    except Exception as err:  # a foreign file can fail in any way; each becomes one readable line
        raise ValueError(f"{what} ({type(err).__name__}: {' '.join(str(err).split())[:300]})") from None


def _read_members(path: Path) -> Dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist() if n.endswith((".json", ".pt"))}


def _tokenizer(settings: Dict[str, Any], files: Dict[str, bytes]):
    kind = settings["kind"]
    if kind == "spacy":
        return Tokenizer(settings["lang"], lower=settings["lower"])
    if kind == "char":
        return char_tokenize
    require(kind == "subword", f"a tokenizer of unknown kind {kind!r} (written by a newer course_lib?)")
    with tempfile.TemporaryDirectory() as tmp:  # SubwordTokenizer.load checks the model
        (Path(tmp) / "subwords.json").write_bytes(files[settings["file"]])
        return SubwordTokenizer.load(Path(tmp) / "subwords.json")


def load_bundle(path: str | os.PathLike, device: Optional[str | torch.device] = None) -> Translator:
    """Load a bundle written by :func:`save_bundle` as a ready :class:`Translator` on ``device`` (default CPU).

    No code in the file runs: the weights are read with ``torch.load(weights_only=True)`` into the
    stored model class and configuration (strict keys and shapes), and vocabularies, tokenisers and
    special ids are checked against the model.

    Raises:
        BundleError (a ValueError): an empty path, a missing file or a folder, a file that is not a readable
            bundle (not a zip, truncated or corrupted in any way), or whose version, model, configuration,
            weights, vocabularies, tokenisers or special ids do not fit. The file is only read.
        InputTypeError (a TypeError and a ValueError): ``path`` or ``device`` of a wrong type.
        ValueError: a device this machine lacks.
    """
    check_instance(path, (str, os.PathLike), "path", "a file path (str or pathlib.Path)")
    dev = as_device("cpu" if device is None else device, check_available=True)
    empty, path = not str(path).strip(), Path(path)
    why = ("the bundle path is empty" if empty else f"{path} is a folder" if path.is_dir()
           else f"{path}: no such file" if not path.is_file() else "")
    require(not why, f"{why}; give the path of a bundle file written by save_bundle", BundleError)
    try:
        files = _stage("not a readable bundle (not a zip file, truncated or corrupted)", _read_members, path)
        return _build(files, dev, str(path))
    except ValueError as err:  # every problem of the file: one line naming it, and what to do
        raise BundleError(f"{path}: {err}; {_HINT}") from None


def _build(files: Dict[str, bytes], dev: torch.device, path: str) -> Translator:
    manifest = _stage("its manifest.json is missing or damaged", lambda: json.loads(files["manifest.json"]))
    require(isinstance(manifest, dict) and manifest.get("format") == BUNDLE_FORMAT, "not a course_lib bundle")
    version = manifest.get("version")
    require(type(version) is int and version == BUNDLE_VERSION, f"a bundle of format version {version!r}, but this "
            f"course_lib reads {BUNDLE_VERSION}; use the course_lib that wrote it ({manifest.get('library_version')})")
    name = manifest.get("model_class")
    require(name in MODEL_CLASSES, f"unknown model class {name!r}; this course_lib knows {', '.join(MODEL_CLASSES)}")
    model_cls, config_cls = MODEL_CLASSES[name]
    config = _stage(f"its {config_cls.__name__} is invalid", config_cls.from_dict, manifest.get("config"))
    vocabs = [_stage(f"its {side} vocabulary is missing or damaged",
                     lambda s=side: Vocab(json.loads(files[f"{s}_vocab.json"]))) for side in _SIDES]
    toks = [_stage(f"its {side} tokenizer cannot be rebuilt",
                   lambda s=side: _tokenizer(manifest["tokenizers"][s], files)) for side in _SIDES]
    model = _stage("its model cannot be built from its configuration and special_ids", lambda: model_cls(
        len(vocabs[0]), len(vocabs[1]), config, **manifest.get("special_ids", {})))
    state = _stage("its weights are missing or cannot be read safely (torch.load(weights_only=True) refuses "
                   "anything but tensors)", lambda: torch.load(io.BytesIO(files["weights.pt"]), map_location="cpu",
                                                                 weights_only=True))
    _stage(f"its weights do not fit a {name} with this configuration", model.load_state_dict, state, strict=True)
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    require(not bad, f"its weights hold NaN or infinite values ({', '.join(bad[:3])})")
    info = {"path": path, "format": BUNDLE_FORMAT, "format_version": version, "model_class": name,
            "config": dataclasses.asdict(config), "parameters": num_parameters(model, trainable_only=False),
            "src_vocab_size": len(vocabs[0]), "tgt_vocab_size": len(vocabs[1]), "tokenizers": manifest["tokenizers"],
            "note": manifest.get("note", ""), "device": str(dev),
            **{k: manifest.get(k) for k in ("library_version", "torch_version", "saved_at")}}
    metrics = manifest.get("metrics") if isinstance(manifest.get("metrics"), dict) else {}
    return _stage("its manifest's special_ids do not match its vocabulary", Translator, model.to(dev), *vocabs,
                  *toks, metrics, info)
