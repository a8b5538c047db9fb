"""``course-translate`` / ``python -m course_lib.translate``: run as a user would (subprocess), plus
in-process checks of :func:`course_lib.translate.main` and :func:`attention_table`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from course_lib.bundle import load_bundle, save_bundle
from course_lib.data import Tokenizer, make_date_corpus, prepare_pairs
from course_lib.models import BahdanauConfig, BahdanauSeq2Seq, VanillaConfig, VanillaSeq2Seq
from course_lib.translate import attention_table, main, read_sentences

REPO = Path(__file__).resolve().parents[1]
S1, S2 = "3 march 1998", "the 21st of june 2004"


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    pairs = make_date_corpus(120, seed=2)
    data = prepare_pairs(pairs[:100], pairs[100:110], pairs[110:], Tokenizer("en"), Tokenizer("en"))
    torch.manual_seed(0)
    att = BahdanauSeq2Seq(len(data.src_vocab), len(data.tgt_vocab),
                          BahdanauConfig(emb_dim=8, enc_hidden_dim=8, dec_hidden_dim=8, attn_dim=8, dropout=0.0))
    plain = VanillaSeq2Seq(len(data.src_vocab), len(data.tgt_vocab),
                           VanillaConfig(emb_dim=8, hidden_dim=8, num_layers=1, dropout=0.0))
    folder = tmp_path_factory.mktemp("cli")
    a = save_bundle(folder / "bahdanau.zip", att.eval(), data, metrics={"bleu": 7.25}, note="cli test")
    v = save_bundle(folder / "vanilla.zip", plain.eval(), data)
    return a, v


def run_cli(*args, stdin: str | None = None):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "course_lib.translate", *map(str, args)], input=stdin,
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=120)


def expected(bundle, sentences, **kw):
    tr = load_bundle(bundle)
    return tr.translate_text(sentences, **kw)


# --- subprocess: what a user sees ------------------------------------------------------

def test_arguments_one_translation_per_line(bundles):
    r = run_cli(bundles[0], S1, S2)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == expected(bundles[0], [S1, S2])
    assert r.stderr == ""


def test_file_with_blank_lines_and_greedy(bundles, tmp_path):
    f = tmp_path / "in.txt"
    f.write_text(f"{S1}\n\n   \n{S2}\n", encoding="utf-8")
    r = run_cli(bundles[0], "--file", f, "--greedy")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == expected(bundles[0], [S1, S2], beam_size=1, alpha=0.0)
    assert "skipped 2 blank lines" in r.stderr


def test_stdin_and_options_after_sentences(bundles):
    r = run_cli(bundles[0], "--beam-size", "3", "--alpha", "0.0", "--beta", "0.2", stdin=f"{S2}\n{S1}\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == expected(bundles[0], [S2, S1], beam_size=3, alpha=0.0, beta=0.2)
    r2 = run_cli(bundles[0], S1, "--max-len", "2")
    assert r2.returncode == 0 and len(r2.stdout.split()) <= 2


def test_n_best_and_show_attention(bundles):
    r = run_cli(bundles[0], S1, "--n-best", "3", "--beam-size", "4", "--show-attention")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == f"[1] {S1}"
    best = load_bundle(bundles[0]).translate(S1, beam_size=4, n_best=3)[0]
    for rank, hyp in enumerate([best] + best.alternatives, start=1):
        assert lines[rank].startswith(f"  {rank}. ({hyp.score:.3f}) ")
    header = lines[4]
    assert header.split("|")[1].split() == best.src_tokens  # source tokens as columns
    rows = [ln for ln in lines[6:] if "|" in ln]
    assert [ln.split("|")[0].strip() for ln in rows] == best.row_labels  # target tokens as rows
    for ln, w in zip(rows, best.attn_weights):
        values = [float(c.rstrip("*")) for c in ln.split("|")[1].split()]
        assert values == pytest.approx(w.tolist(), abs=0.006)
        assert ln.split("|")[1].split()[int(w.argmax())].endswith("*")


def test_info(bundles):
    r = run_cli(bundles[0], "--info")
    assert r.returncode == 0, r.stderr
    assert "BahdanauSeq2Seq" in r.stdout and "bleu = 7.25" in r.stdout and "cli test" in r.stdout
    assert "spaCy blank 'en'" in r.stdout


def test_bad_bundle_exit_2_one_line(tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(os.urandom(300))
    r = run_cli(bad, S1)
    assert r.returncode == 2
    assert r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert str(bad) in r.stderr and "save_bundle" in r.stderr


@pytest.mark.parametrize("make_bad", ["missing", "folder", "truncated", "text file"])
def test_bad_bundle_in_process(bundles, tmp_path, capsys, make_bad):
    bad = tmp_path / "bad.zip"
    if make_bad == "folder":
        bad = tmp_path
    elif make_bad == "truncated":
        bad.write_bytes(bundles[0].read_bytes()[:1000])
    elif make_bad == "text file":
        bad.write_text("Ein Mann fährt Fahrrad.\n")
    assert main([str(bad), S1]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and str(bad) in err


def test_help_explains_bundles():
    r = run_cli("--help")
    assert r.returncode == 0
    for words in ("bundle", "save_bundle", "--file", "standard input", "--show-attention", "examples"):
        assert words in r.stdout


# --- in process: the rest of the argument checks ----------------------------------------

@pytest.mark.parametrize("argv", [
    ["--n-best", "3", "--beam-size", "2", S1],
    ["--beam-size", "0", S1],
    ["--greedy", "--n-best", "2", S1],
    ["--max-len", "0", S1],
    ["--alpha", "-1", S1],
    ["--beta", "nan", S1],
    ["   "],
    ["--file", "/nonexistent/sentences.txt"],
    ["--file", "{file}", S1],
])
def test_bad_arguments_exit_2_with_one_line(bundles, capsys, tmp_path, argv):
    f = tmp_path / "s.txt"
    f.write_text(S1)
    argv = [a.replace("{file}", str(f)) for a in argv]
    assert main([str(bundles[0]), *argv]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len([ln for ln in err.splitlines() if "error" in ln]) == 1


def test_unknown_option_and_missing_bundle_argument(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--frobnicate"])
    assert e.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_model_without_attention(bundles, capsys):
    assert main([str(bundles[1]), S1, "--show-attention"]) == 0
    assert "no attention" in capsys.readouterr().out


def test_read_sentences():
    import io

    assert read_sentences([" a ", "", "b"], None, None) == (["a", "b"], 1)
    assert read_sentences([], None, io.StringIO("x\n\ny\n")) == (["x", "y"], 1)
    with pytest.raises(ValueError):
        read_sentences(["a"], "file.txt", None)


def test_attention_table():
    w = np.array([[0.1, 0.9], [0.6, 0.4]])
    table = attention_table(w, ["ein", "<eos>"], ["a", "<eos>"])
    lines = table.splitlines()
    assert lines[0].split("|")[1].split() == ["ein", "<eos>"]
    assert lines[2].split("|")[1].split() == ["0.10", "0.90*"]
    assert lines[3].split("|")[1].split() == ["0.60*", "0.40"]
    assert attention_table(torch.tensor(w), ["ein", "<eos>"], ["a", "<eos>"]) == table
    with pytest.raises(ValueError):
        attention_table(w, ["ein"], ["a", "<eos>"])
    with pytest.raises(ValueError):
        attention_table(w[0], ["ein", "<eos>"], ["a"])
    with pytest.raises(TypeError):
        attention_table(w, "ab", ["a", "<eos>"])
    with pytest.raises(ValueError):
        attention_table(w, ["ein", "<eos>"], ["a", "<eos>"], decimals=9)
