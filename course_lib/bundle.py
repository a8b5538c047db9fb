"""A translator you keep: save a trained model as one self-contained file and load it back.

A **bundle** is one ``.zip`` file (written atomically with :func:`course_lib.utils.atomic_write`)
that holds everything needed to translate with a trained model, and nothing that runs code
when it is opened:

- ``manifest.json``: the format name (``course_lib.bundle``) and version, the model class and
  its configuration dataclass (as JSON), the vocabulary sizes and special ids, the tokeniser
  settings of both sides, the metrics the model reached, a free-text note,
  ``course_lib.__version__``, the torch version and the time it was saved;
- ``weights.pt``: the model's ``state_dict`` (read back with ``torch.load(weights_only=True)``,
  the safe loader: a bundle may come from someone else);
- ``src_vocab.json``, ``tgt_vocab.json``: the vocabularies (``Vocab.itos``);
- ``src_subwords.json`` / ``tgt_subwords.json``: the BPE subword model of a side that uses
  one (Sennrich et al. 2016; GNMT's wordpieces, Wu et al. 2016, sec. 4.1).

Word tokenisers (spaCy blank rules, :class:`~course_lib.data.Tokenizer`) are stored as their
settings (language code and lower-casing); the character tokeniser of the toy corpus as its
name.

Use::

    from course_lib.bundle import save_bundle, load_bundle
    save_bundle("bahdanau.bundle.zip", model, data, metrics={"bleu": 31.2}, note="lesson 03, cpu")
    tr = load_bundle("bahdanau.bundle.zip")
    tr.translate_text("Ein Mann fährt Fahrrad.")     # ['a man rides a bike .']

or from a shell: ``course-translate bahdanau.bundle.zip "Ein Mann fährt Fahrrad."`` (see
:mod:`course_lib.translate`).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import io
import json
import numbers
import os
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import torch

from . import __version__
from .data import SubwordTokenizer, Tokenizer, Vocab, char_tokenize
from .data.text import CharTokenizer
from .decoding import Translation, translate as _translate
from .models import (BahdanauConfig, BahdanauSeq2Seq, GNMTConfig, GNMTSeq2Seq, LuongConfig, LuongSeq2Seq,
                     VanillaConfig, VanillaSeq2Seq)
from .utils import atomic_write, num_parameters

__all__ = ["BUNDLE_FORMAT", "BUNDLE_VERSION", "BundleError", "Translator", "save_bundle", "load_bundle",
           "MODEL_CLASSES"]

BUNDLE_FORMAT = "course_lib.bundle"
"""The ``format`` entry of every bundle's manifest."""
BUNDLE_VERSION = 1
"""The bundle format version this library writes and reads."""

MODEL_CLASSES = {
    "VanillaSeq2Seq": (VanillaSeq2Seq, VanillaConfig),
    "BahdanauSeq2Seq": (BahdanauSeq2Seq, BahdanauConfig),
    "LuongSeq2Seq": (LuongSeq2Seq, LuongConfig),
    "GNMTSeq2Seq": (GNMTSeq2Seq, GNMTConfig),
}
"""Model classes a bundle can hold: class name -> (model class, config dataclass)."""

_MANIFEST = "manifest.json"
_WEIGHTS = "weights.pt"
_SIDES = ("src", "tgt")
_HINT = "save the model again with course_lib.bundle.save_bundle (lessons 03-05 show how)"


class BundleError(ValueError):
    """A file is not a usable translator bundle; the message names the file and what to do.

    Raised by :func:`load_bundle` for a file that is missing, not a bundle, truncated or
    corrupted, of another format version, for an unknown model class, or whose weights do
    not fit its configuration. Nothing is loaded or changed when it is raised.
    """


# ---------------------------------------------------------------------------------------
# saving
# ---------------------------------------------------------------------------------------

def _unwrap(model):
    """The plain model inside a ``DistributedDataParallel``/``DataParallel`` or ``torch.compile`` wrapper."""
    for _ in range(3):
        if isinstance(model, (torch.nn.parallel.DistributedDataParallel, torch.nn.DataParallel)):
            model = model.module
        elif hasattr(model, "_orig_mod") and isinstance(model._orig_mod, torch.nn.Module):
            model = model._orig_mod
    return model


def _tokenizer_settings(tok: Any, side: str) -> Dict[str, Any]:
    """JSON-able description of a tokeniser (``kind`` + settings); ValueError for one we cannot store."""
    if isinstance(tok, SubwordTokenizer):
        return {"kind": "subword", "file": f"{side}_subwords.json", "settings": dict(tok.settings),
                "vocab_size": tok.vocab_size}
    if isinstance(tok, Tokenizer):
        return {"kind": "spacy", "lang": tok.lang, "lower": tok.lower}
    if isinstance(tok, CharTokenizer):
        return {"kind": "char"}
    raise ValueError(
        f"cannot save the {side} tokenizer {tok!r} ({type(tok).__name__}) in a bundle: only the course's "
        "tokenizers can be stored (course_lib.data.Tokenizer, SubwordTokenizer or char_tokenize); "
        "build the data with prepare_multi30k / prepare_pairs and one of those")


def _plain(value: Any, where: str) -> Any:
    """``value`` as plain JSON data (numbers, strings, bools, None, lists, str-keyed dicts)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    if hasattr(value, "item") and getattr(value, "shape", None) == ():  # numpy scalar
        return _plain(value.item(), where)
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueError(f"{where} keys must be strings, got {k!r}")
            out[k] = _plain(v, f"{where}[{k!r}]")
        return out
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise ValueError(f"{where} must hold plain numbers, strings, lists or dicts, got {type(value).__name__} "
                     f"({value!r:.60}); convert it (e.g. float(x)) first")


def save_bundle(path: str | os.PathLike, model, corpus, metrics: Optional[Dict[str, Any]] = None,
                note: str = "") -> Path:
    """Save a trained model, its vocabularies and tokenisers as one self-contained bundle file.

    Everything is checked before anything is written; the file is written atomically (it is
    complete or absent; an existing file is replaced only by a complete new one).

    Args:
        path: the file to write (suggested suffix ``.zip``, e.g. ``"bahdanau.bundle.zip"``);
            a missing parent folder is created.
        model: a trained :class:`~course_lib.models.VanillaSeq2Seq`,
            :class:`~course_lib.models.BahdanauSeq2Seq`, :class:`~course_lib.models.LuongSeq2Seq`
            or :class:`~course_lib.models.GNMTSeq2Seq` (a DDP or ``torch.compile`` wrapper is
            unwrapped).
        corpus: the :class:`~course_lib.data.TranslationData` it was trained on (anything with
            ``src_vocab``, ``tgt_vocab``, ``src_tokenizer``, ``tgt_tokenizer``).
        metrics: what it reached, e.g. ``{"bleu": 31.2, "chrf": 55.0, "val_loss": 2.1}``
            (plain numbers/strings/lists/dicts; NumPy and 0-d tensor scalars are converted).
        note: free text kept in the manifest (profile, epochs, ...).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        TypeError: ``path`` is not a str or path, ``model`` is not a course model, ``note`` not
            a str, ``metrics`` not a dict.
        ValueError: the corpus' vocabulary sizes differ from the model's (a model/corpus
            mismatch), a tokeniser that cannot be stored, metrics that are not plain data,
            ``path`` an existing folder.
        OSError: the file system refused the write (read-only folder, parent is a file...);
            no file, partial or temporary, is left behind.
    """
    if isinstance(path, bool) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file path (str or Path), got {type(path).__name__}")
    if not str(path).strip():
        raise ValueError("path is empty; give a file name such as 'model.bundle.zip'")
    model = _unwrap(model)
    name = type(model).__name__
    if name not in MODEL_CLASSES or not isinstance(model, MODEL_CLASSES[name][0]):
        raise TypeError(f"save_bundle can store a {', '.join(MODEL_CLASSES)}, got {name}")
    if not isinstance(note, str):
        raise TypeError(f"note must be a str, got {type(note).__name__}")
    if metrics is None:
        metrics = {}
    if not isinstance(metrics, dict):
        raise TypeError(f"metrics must be a dict such as {{'bleu': 31.2}}, got {type(metrics).__name__}")
    metrics = _plain(metrics, "metrics")
    missing = [a for a in ("src_vocab", "tgt_vocab", "src_tokenizer", "tgt_tokenizer") if not hasattr(corpus, a)]
    if missing:
        raise TypeError(f"corpus must be a course_lib.data.TranslationData (the data the model was trained on); "
                        f"a {type(corpus).__name__} has no {', '.join(missing)}")
    for side in _SIDES:
        vocab = getattr(corpus, f"{side}_vocab")
        if not isinstance(vocab, Vocab):
            raise TypeError(f"corpus.{side}_vocab must be a course_lib.data.Vocab, got {type(vocab).__name__}")
        size = getattr(model, f"{side}_vocab_size")
        if len(vocab) != size:
            raise ValueError(
                f"model/corpus mismatch: the corpus' {side} vocabulary has {len(vocab)} entries but the model "
                f"was built for {size}; save the model with the TranslationData it was trained on")
    tokenizers = {side: _tokenizer_settings(getattr(corpus, f"{side}_tokenizer"), side) for side in _SIDES}
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder; give a file name such as {path / 'model.bundle.zip'}")

    config = dataclasses.asdict(model.config)
    manifest = {
        "format": BUNDLE_FORMAT,
        "version": BUNDLE_VERSION,
        "model_class": name,
        "config": config,
        "src_vocab_size": model.src_vocab_size,
        "tgt_vocab_size": model.tgt_vocab_size,
        "special_ids": {"pad_id": model.pad_id, "sos_id": model.sos_id, "eos_id": model.eos_id},
        "parameters": num_parameters(model, trainable_only=False),
        "tokenizers": tokenizers,
        "metrics": metrics,
        "note": note,
        "library_version": __version__,
        "torch_version": torch.__version__,
        "saved_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    weights = io.BytesIO()
    torch.save(state, weights)
    files = {
        _MANIFEST: json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8"),
        _WEIGHTS: weights.getvalue(),
        "src_vocab.json": json.dumps(corpus.src_vocab.itos, ensure_ascii=False).encode("utf-8"),
        "tgt_vocab.json": json.dumps(corpus.tgt_vocab.itos, ensure_ascii=False).encode("utf-8"),
    }
    for side in _SIDES:
        if tokenizers[side]["kind"] == "subword":
            payload = getattr(corpus, f"{side}_tokenizer").__getstate__()
            files[tokenizers[side]["file"]] = json.dumps(payload, ensure_ascii=False).encode("utf-8")

    def write(handle) -> None:
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for member, data in files.items():
                zf.writestr(member, data)

    try:
        return atomic_write(path, write)
    except OSError as err:
        raise OSError(err.errno, f"cannot write the bundle {path}: {err.strerror or err}; "
                      "choose a folder you can write to") from err


# ---------------------------------------------------------------------------------------
# loading
# ---------------------------------------------------------------------------------------

class Translator:
    """A loaded bundle: a model in eval mode with its vocabularies and tokenisers.

    Made by :func:`load_bundle` (or directly from parts, e.g. right after training:
    ``Translator(model, data.src_vocab, data.tgt_vocab, data.src_tokenizer, data.tgt_tokenizer)``).

    Raises (constructor):
        TypeError: ``model`` is not a :class:`~course_lib.models.Seq2Seq`, a vocabulary not a
            :class:`~course_lib.data.Vocab`, a tokeniser not callable (the target one without
            ``.detokenize``), ``metrics``/``info`` not dicts.
        ValueError: a vocabulary whose size differs from the model's.

    Attributes:
        model: the :class:`~course_lib.models.Seq2Seq`, in eval mode, on its device.
        src_vocab, tgt_vocab: :class:`~course_lib.data.Vocab`.
        src_tokenizer, tgt_tokenizer: the tokenisers (with ``.detokenize``).
        metrics: the metrics stored with the bundle (a dict, possibly empty).
        info: ``model_class``, ``config``, ``parameters``, ``src_vocab_size``,
            ``tgt_vocab_size``, ``tokenizers``, ``library_version``, ``torch_version``,
            ``saved_at``, ``note``, ``format``, ``format_version``, ``path``, ``device``.
    """

    def __init__(self, model, src_vocab: Vocab, tgt_vocab: Vocab, src_tokenizer, tgt_tokenizer,
                 metrics: Optional[Dict[str, Any]] = None, info: Optional[Dict[str, Any]] = None):
        from .models import Seq2Seq

        if not isinstance(model, Seq2Seq):
            raise TypeError(f"model must be a course_lib.models.Seq2Seq, got {type(model).__name__}")
        for side, vocab, tok in (("src", src_vocab, src_tokenizer), ("tgt", tgt_vocab, tgt_tokenizer)):
            if not isinstance(vocab, Vocab):
                raise TypeError(f"{side}_vocab must be a course_lib.data.Vocab, got {type(vocab).__name__}")
            if len(vocab) != getattr(model, f"{side}_vocab_size"):
                raise ValueError(f"{side}_vocab has {len(vocab)} entries but the model was built for "
                                 f"{getattr(model, f'{side}_vocab_size')}; pass the vocabularies it was trained with")
            if not callable(tok):
                raise TypeError(f"{side}_tokenizer must be a callable str -> list[str], got {type(tok).__name__}")
        if not callable(getattr(tgt_tokenizer, "detokenize", None)):
            raise TypeError("tgt_tokenizer needs a .detokenize(tokens) method (the course's tokenizers have one)")
        for name, value in (("metrics", metrics), ("info", info)):
            if value is not None and not isinstance(value, dict):
                raise TypeError(f"{name} must be a dict or None, got {type(value).__name__}")
        self.model = model.eval()
        self.src_vocab = src_vocab
        self.tgt_vocab = tgt_vocab
        self.src_tokenizer = src_tokenizer
        self.tgt_tokenizer = tgt_tokenizer
        self.metrics = dict(metrics or {})
        self.info = dict(info or {})

    @property
    def device(self) -> torch.device:
        """The device the model's weights are on."""
        return next(self.model.parameters()).device

    def translate(self, sentences: str | Sequence[str], beam_size: int = 5, alpha: float = 0.6, beta: float = 0.0,
                  n_best: int = 1, max_len: Optional[int] = None) -> List[Translation]:
        """Translate raw sentences with beam search (greedy with ``beam_size=1, alpha=0``).

        Wu et al. (2016), sec. 7, eq. 14: ``alpha`` is the length-normalisation strength,
        ``beta`` the coverage penalty's; GNMT used ``alpha`` 0.6-0.7 and ``beta`` 0.2.

        Args:
            sentences: one ``str`` (one sentence, never split into characters) or a list of them.
            beam_size: hypotheses kept per step (``>= 1``). n_best: translations returned per
                sentence (``1 <= n_best <= beam_size``; the runners-up are in
                :attr:`~course_lib.decoding.Translation.alternatives`).
            max_len: most target tokens (default: from the source length).

        Returns:
            One :class:`~course_lib.decoding.Translation` per sentence (``tokens``,
            ``attn_weights [T+1, S+1]``, ``score``, ``row_labels``, ``alternatives``).

        Raises:
            ValueError: no sentences, a sentence with no tokens (blank), a bad search argument.
            TypeError: ``sentences`` holds something other than strings.
        """
        with torch.no_grad():
            return _translate(self.model, sentences, self.src_tokenizer, self.src_vocab, self.tgt_vocab,
                              max_len=max_len, beam_size=beam_size, alpha=alpha, beta=beta, n_best=n_best)

    def detokenize(self, tokens: Sequence[str]) -> str:
        """Target tokens -> text with the target tokeniser's ``detokenize``.

        Raises:
            TypeError (``course_lib.viz.InputTypeError``, also a ValueError): ``tokens`` is a
                bare str (it would be read letter by letter: pass ``Translation.tokens``), not a
                list, or holds non-str items.
        """
        from .viz import check_tokens

        return self.tgt_tokenizer.detokenize(check_tokens(tokens, "tokens", allow_empty=True))

    def translate_text(self, sentences: str | Sequence[str], beam_size: int = 5, alpha: float = 0.6,
                       beta: float = 0.0, max_len: Optional[int] = None) -> List[str]:
        """Like :meth:`translate`, but returns the best translation of each sentence as text.

        Raises:
            ValueError, TypeError: as :meth:`translate`.
        """
        return [self.detokenize(t.tokens) for t in
                self.translate(sentences, beam_size=beam_size, alpha=alpha, beta=beta, max_len=max_len)]

    def describe(self) -> str:
        """A few lines saying what the bundle holds and the metrics it reached."""
        i = self.info
        toks = i.get("tokenizers", {})

        def tok(side):
            t = toks.get(side, {})
            if t.get("kind") == "spacy":
                return f"spaCy blank '{t.get('lang')}' words{' (lower-cased)' if t.get('lower') else ''}"
            if t.get("kind") == "subword":
                return f"BPE subwords ({t.get('vocab_size')} pieces)"
            if t.get("kind") == "char":
                return "characters"
            return str(t.get("kind", "?"))

        lines = [
            f"bundle:      {i.get('path', '?')}",
            f"model:       {i.get('model_class')} ({i.get('parameters', 0):,} parameters)",
            f"config:      {json.dumps(i.get('config', {}))}",
            f"source:      {tok('src')}, vocabulary {i.get('src_vocab_size')}",
            f"target:      {tok('tgt')}, vocabulary {i.get('tgt_vocab_size')}",
            f"saved:       {i.get('saved_at', '?')} with course_lib {i.get('library_version', '?')}, "
            f"torch {i.get('torch_version', '?')}",
        ]
        if i.get("note"):
            lines.append(f"note:        {i['note']}")
        if self.metrics:
            lines.append("metrics:     " + ", ".join(f"{k} = {_fmt(v)}" for k, v in self.metrics.items()))
        else:
            lines.append("metrics:     (none stored)")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"Translator({self.info.get('model_class', type(self.model).__name__)}, "
                f"src_vocab={len(self.src_vocab)}, tgt_vocab={len(self.tgt_vocab)}, metrics={self.metrics})")


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return json.dumps(v) if isinstance(v, (dict, list)) else str(v)


def _fail(path, what: str) -> BundleError:
    return BundleError(f"{path}: {what}; {_HINT}")


def _json_member(zf: zipfile.ZipFile, member: str, path) -> Any:
    try:
        raw = zf.read(member)
    except KeyError:
        raise _fail(path, f"the bundle has no {member}") from None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise _fail(path, f"the bundle's {member} is damaged ({err})") from None


def _load_tokenizer(settings: Any, zf: zipfile.ZipFile, side: str, path):
    if not isinstance(settings, dict) or "kind" not in settings:
        raise _fail(path, f"the manifest's {side} tokenizer settings are damaged")
    kind = settings["kind"]
    try:
        if kind == "spacy":
            lang, lower = settings.get("lang"), settings.get("lower")
            if not isinstance(lang, str) or not isinstance(lower, bool):
                raise ValueError(f"bad spaCy settings {settings}")
            return Tokenizer(lang, lower=lower)
        if kind == "char":
            return char_tokenize
        if kind == "subword":
            member = settings.get("file", f"{side}_subwords.json")
            try:
                raw = zf.read(member)
            except KeyError:
                raise ValueError(f"the bundle has no {member}") from None
            with tempfile.TemporaryDirectory() as tmp:  # SubwordTokenizer.load validates the model
                f = Path(tmp) / "subwords.json"
                f.write_bytes(raw)
                return SubwordTokenizer.load(f)
    except (ValueError, TypeError) as err:
        raise _fail(path, f"the {side} tokenizer cannot be rebuilt ({err})") from None
    raise _fail(path, f"the {side} tokenizer is of an unknown kind {kind!r} (a newer course_lib?)")


def _resolve_device(device) -> torch.device:
    from .utils import get_device

    if device is None:
        return torch.device("cpu")
    if isinstance(device, torch.device):
        device = device.type
    if not isinstance(device, str):
        raise TypeError(f"device must be None, 'cpu', 'cuda', 'mps' or a torch.device, got {type(device).__name__}")
    return get_device(device)


def load_bundle(path: str | os.PathLike, device: Optional[str | torch.device] = None) -> Translator:
    """Load a bundle written by :func:`save_bundle`: one call gives a ready :class:`Translator`.

    The weights are read with ``torch.load(weights_only=True)`` (no code in the file is run),
    into a model built from the stored class and configuration, with strict key and shape
    checks; the vocabularies and tokenisers are rebuilt and checked against the model.

    Args:
        path: the bundle file.
        device: ``"cpu"`` (the default, ``None``), ``"cuda"``, ``"mps"`` or a ``torch.device``.

    Returns:
        A :class:`Translator` (model in eval mode on ``device``).

    Raises:
        BundleError (a ``ValueError``): the path is empty, the file is missing, not a bundle (not a zip, no
            manifest), truncated or corrupted, of another format version, holds an unknown
            model class, a configuration the model refuses, or weights / vocabularies that do
            not fit the configuration. The message names the file and what to do; nothing is
            changed (the file is only read).
        ValueError: ``device`` names a device this machine does not have.
        TypeError: ``device`` of a wrong type.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file path (str or Path), got {type(path).__name__}")
    if not str(path).strip():
        raise BundleError("the bundle path is empty; give the path of a bundle file written by save_bundle")
    dev = _resolve_device(device)
    path = Path(path)
    if not path.exists():
        raise BundleError(f"{path}: no such file; give the path of a bundle written by save_bundle")
    if path.is_dir():
        raise BundleError(f"{path} is a folder, not a bundle file; give the path of a .zip bundle")
    try:
        with zipfile.ZipFile(path) as zf:
            return _load_from_zip(zf, path, dev)
    except BundleError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, NotImplementedError) as err:
        raise _fail(path, f"not a readable bundle (not a zip file, truncated or corrupted: {err})") from None


def _load_from_zip(zf: zipfile.ZipFile, path: Path, dev: torch.device) -> Translator:
    manifest = _json_member(zf, _MANIFEST, path)
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise _fail(path, f"not a course_lib bundle (its manifest's format is "
                          f"{manifest.get('format') if isinstance(manifest, dict) else None!r}, "
                          f"expected {BUNDLE_FORMAT!r})")
    version = manifest.get("version")
    if isinstance(version, bool) or version != BUNDLE_VERSION:
        raise BundleError(f"{path}: a bundle of format version {version!r}, but this course_lib "
                          f"({__version__}) reads version {BUNDLE_VERSION}; use the course_lib version that "
                          f"wrote it ({manifest.get('library_version', '?')}) or save the model again")
    name = manifest.get("model_class")
    if name not in MODEL_CLASSES:
        raise _fail(path, f"unknown model class {name!r}; this course_lib knows {', '.join(MODEL_CLASSES)}")
    model_cls, config_cls = MODEL_CLASSES[name]
    config_dict = manifest.get("config")
    if not isinstance(config_dict, dict):
        raise _fail(path, "the manifest has no model configuration")
    try:
        config = config_cls.from_dict(config_dict)
    except (ValueError, TypeError) as err:
        raise _fail(path, f"its {config_cls.__name__} is invalid ({err})") from None

    vocabs = {}
    for side in _SIDES:
        itos = _json_member(zf, f"{side}_vocab.json", path)
        try:
            vocabs[side] = Vocab(itos)
        except (ValueError, TypeError) as err:
            raise _fail(path, f"its {side} vocabulary is damaged ({err})") from None
        if len(vocabs[side]) != manifest.get(f"{side}_vocab_size"):
            raise _fail(path, f"its {side} vocabulary has {len(vocabs[side])} entries but the manifest says "
                              f"{manifest.get(f'{side}_vocab_size')!r}")
    tokenizers = manifest.get("tokenizers") if isinstance(manifest.get("tokenizers"), dict) else {}
    toks = {side: _load_tokenizer(tokenizers.get(side), zf, side, path) for side in _SIDES}
    ids = manifest.get("special_ids") if isinstance(manifest.get("special_ids"), dict) else {}
    try:
        model = model_cls(len(vocabs["src"]), len(vocabs["tgt"]), config, **ids)
    except (ValueError, TypeError) as err:
        raise _fail(path, f"the model cannot be built from its configuration ({err})") from None

    try:
        raw = zf.read(_WEIGHTS)
    except KeyError:
        raise _fail(path, f"the bundle has no {_WEIGHTS}") from None
    try:
        state = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception as err:  # pickle.UnpicklingError, RuntimeError, EOFError...: all mean "not our weights"
        import pickle
        if isinstance(err, pickle.UnpicklingError):
            why = "it holds objects other than tensors, which the safe loader torch.load(weights_only=True) refuses"
        else:
            why = f"{type(err).__name__}: {' '.join(str(err).split())[:160]}"
        raise _fail(path, f"its weights cannot be read safely ({why})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise _fail(path, "its weights are not a state dict of tensors")
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise _fail(path, f"its weights do not fit a {name} with this configuration "
                          f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
    wrong = [f"{k}: {tuple(state[k].shape)} instead of {tuple(v.shape)}" for k, v in expected.items()
             if tuple(state[k].shape) != tuple(v.shape)]
    if wrong:
        raise _fail(path, f"its weights do not fit the configuration ({'; '.join(wrong[:3])})")
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise _fail(path, f"its weights hold NaN or infinite values ({', '.join(bad[:3])})")
    model.load_state_dict(state, strict=True)
    model.to(dev).eval()

    metrics = manifest.get("metrics") if isinstance(manifest.get("metrics"), dict) else {}
    info = {
        "path": str(path),
        "format": BUNDLE_FORMAT,
        "format_version": version,
        "model_class": name,
        "config": dataclasses.asdict(config),
        "parameters": num_parameters(model, trainable_only=False),
        "src_vocab_size": len(vocabs["src"]),
        "tgt_vocab_size": len(vocabs["tgt"]),
        "tokenizers": tokenizers,
        "library_version": manifest.get("library_version"),
        "torch_version": manifest.get("torch_version"),
        "saved_at": manifest.get("saved_at"),
        "note": manifest.get("note", ""),
        "device": str(dev),
    }
    return Translator(model, vocabs["src"], vocabs["tgt"], toks["src"], toks["tgt"], metrics, info)
