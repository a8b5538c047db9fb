"""Defects the acceptance suite found in the tools layer (issue 14), one test each:

- a bundle with one corrupted bit in the zip's central directory (the "encrypted" flag, or an
  unsupported compression method) escaped ``BundleError`` (a bare ``RuntimeError``, ``LZMAError``
  ...), and ``course-translate`` printed a traceback and exited 1;
- a manifest whose special ids contradict its vocabulary loaded silently;
- ``course-translate --n-best`` crashed on a non-UTF-8 sentence argument with a strict UTF-8
  standard output.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from course_lib.bundle import BundleError, Translator, load_bundle, save_bundle
from tests.test_bundle import trained

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bundle_path(tmp_path_factory):
    model, data = trained("bahdanau", "word", steps=2)
    return save_bundle(tmp_path_factory.mktemp("defects") / "b.zip", model, data)


def _central_entry(raw: bytes, member: str) -> int:
    """Offset of ``member``'s central-directory header in the zip bytes ``raw``."""
    at = raw.find(b"PK\x01\x02")
    while at >= 0:
        name_len = struct.unpack_from("<H", raw, at + 28)[0]
        if raw[at + 46:at + 46 + name_len].decode() == member:
            return at
        at = raw.find(b"PK\x01\x02", at + 4)
    raise AssertionError(f"{member} not in the central directory")


def _corrupt(src: Path, dst: Path, member: str, field: str, value: int | None = None) -> Path:
    raw = bytearray(src.read_bytes())
    at = _central_entry(bytes(raw), member)
    if field == "encrypted":  # bit 0 of the general-purpose flags
        raw[at + 8] |= 0x01
    else:  # the compression method
        struct.pack_into("<H", raw, at + 10, value)
    dst.write_bytes(bytes(raw))
    return dst


CORRUPTIONS = [("manifest.json", "encrypted", None), ("weights.pt", "encrypted", None),
               ("src_vocab.json", "encrypted", None), ("weights.pt", "method", 14),  # LZMA on deflate data
               ("manifest.json", "method", 12), ("weights.pt", "method", 99)]


@pytest.mark.parametrize("member, field, value", CORRUPTIONS)
def test_a_corrupted_central_directory_bit_is_a_bundle_error(bundle_path, tmp_path, member, field, value):
    bad = _corrupt(bundle_path, tmp_path / "bad.zip", member, field, value)
    with pytest.raises(BundleError) as info:
        load_bundle(bad)
    assert str(bad) in str(info.value) and "\n" not in str(info.value)


def test_translate_on_an_encrypted_flag_bundle_exits_2_with_one_line(bundle_path, tmp_path):
    bad = _corrupt(bundle_path, tmp_path / "bad.zip", "weights.pt", "encrypted")
    r = subprocess.run([sys.executable, "-m", "course_lib.translate", str(bad), "3 march 1998"],
                       capture_output=True, text=True, cwd=REPO, timeout=120,
                       env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert str(bad) in r.stderr and r.stdout == ""


def _with_special_ids(src: Path, dst: Path, **ids) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            data = zin.read(name)
            if name == "manifest.json":
                manifest = json.loads(data)
                manifest["special_ids"].update(ids)
                data = json.dumps(manifest).encode()
            zout.writestr(name, data)
    return dst


def test_special_ids_that_contradict_the_vocabulary_are_a_bundle_error(bundle_path, tmp_path):
    bad = _with_special_ids(bundle_path, tmp_path / "ids.zip", eos_id=5, sos_id=6)
    with pytest.raises(BundleError) as info:
        load_bundle(bad)
    message = str(info.value)
    assert "eos_id" in message and "sos_id" in message
    assert "<eos> is id 3" in message and "<sos> is id 2" in message
    assert str(bad) in message


def test_special_ids_that_agree_still_load(bundle_path, tmp_path):
    fine = _with_special_ids(bundle_path, tmp_path / "ok.zip", eos_id=3, sos_id=2, pad_id=0)
    assert load_bundle(fine).model.eos_id == 3


def test_a_translator_from_parts_refuses_special_ids_that_contradict_the_vocabulary():
    model, data = trained("bahdanau", "word", steps=1)
    model.eos_id = 5
    with pytest.raises(ValueError, match="eos_id"):
        Translator(model, data.src_vocab, data.tgt_vocab, data.src_tokenizer, data.tgt_tokenizer)


def test_n_best_echoes_a_non_utf8_argument_on_a_strict_utf8_stdout(bundle_path):
    sentence = b"3 march \xff 1998"  # not UTF-8: Python reads it as '3 march \udcff 1998' (surrogateescape)
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONIOENCODING="utf-8:strict")
    r = subprocess.run([sys.executable, "-m", "course_lib.translate", str(bundle_path), sentence,
                        "--n-best", "2", "--beam-size", "2", "--show-attention"],
                       capture_output=True, cwd=REPO, timeout=120, env=env)
    err = r.stderr.decode("utf-8", "replace")
    assert r.returncode == 0, err
    assert "Traceback" not in err
    lines = r.stdout.decode("utf-8").splitlines()  # strict: the output is valid UTF-8
    assert lines[0] == "[1] 3 march \\udcff 1998"
    assert lines[1].startswith("  1. (") and lines[2].startswith("  2. (")
    assert "\ufffd" in lines[3].split("|")[1]  # the byte is translated as U+FFFD (an unknown word)
