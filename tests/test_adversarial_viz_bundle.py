"""Adversarial input for the figure, widget, bundle and command-line modules.

Each test feeds ONE bad argument to a public function whose other arguments are valid and
checks that a clear ``ValueError``/``TypeError`` (the course's ``InputTypeError`` is both)
is raised before any work is done, instead of an AttributeError/KeyError/RuntimeError from
deep inside, a silent acceptance, or a str read letter by letter.
"""

from __future__ import annotations

import io
import os
import sys
from types import SimpleNamespace

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure

from course_lib import compare, explorer, fonts, runner, translate, viz
from course_lib.decoding import StepTrace
from course_lib.viz import BeamEntry, InputTypeError

W = torch.tensor([[0.9, 0.1], [0.2, 0.8]])
SRC, TGT = ["a", "<eos>"], ["x", "<eos>"]
BLEU = pd.DataFrame({"bucket": ["1-5", "6-10"], "sentences": [3, 4], "bleu": [10.0, 5.0]})
SWEEP = pd.DataFrame({"beam_size": [1, 2, 4], "bleu": [1.0, 2.0, 1.5]})
VARIANTS = pd.DataFrame({"variant": ["x", "y"], "val_ppl": [3.0, 4.0], 5: [1.0, 2.0]})
TENSOR_TITLES = [torch.zeros(0), torch.zeros(2, 2), 5, ["t"]]


def history(**epoch):
    return SimpleNamespace(steps=[{"step": 1, "loss": 2.0}], epochs=[{"epoch": 1, "train_loss": 2.0, **epoch}])


# -- titles and labels: text or None, never a tensor's truth value -------------------------


@pytest.mark.parametrize("bad", TENSOR_TITLES, ids=["t0", "t2x2", "int", "list"])
@pytest.mark.parametrize("call", [
    lambda t: viz.plot_attention(W, SRC, TGT, title=t),
    lambda t: viz.plot_history(history(), title=t),
    lambda t: viz.plot_bleu_by_length({"a": BLEU}, title=t),
    lambda t: viz.plot_length_histogram({"de": [1, 2]}, title=t),
    lambda t: viz.plot_beam_step([[BeamEntry(("a",), -1.0)]], 0, title=t),
    lambda t: viz.plot_beam_tree([[BeamEntry(("a",), -1.0)]], title=t),
    lambda t: compare.plot_beam_sweep(SWEEP, title=t),
    lambda t: compare.plot_beam_sweep(SWEEP, ylabel=t),
    lambda t: compare.plot_variant_comparison(VARIANTS, metrics=[("val_ppl", "ppl")], title=t),
], ids=["attention", "history", "bleu", "histogram", "beam_step", "beam_tree", "sweep_title", "sweep_ylabel",
        "variants"])
def test_titles_must_be_text(call, bad):
    with pytest.raises(InputTypeError, match="must be a str"):
        call(bad)


def test_plot_attention_refuses_a_non_axes_ax_and_a_non_bool_annotate():
    with pytest.raises(InputTypeError, match="ax must be a matplotlib Axes"):
        viz.plot_attention(W, SRC, TGT, ax="left")
    with pytest.raises(InputTypeError, match="annotate"):
        viz.plot_attention(W, SRC, TGT, annotate=torch.zeros(2))
    with pytest.raises(InputTypeError, match="annotate"):
        viz.plot_attention(W, SRC, TGT, annotate="yes")
    fig = Figure()
    ax = fig.subplots()
    assert viz.plot_attention(W, SRC, TGT, ax=ax, annotate=False) is fig  # valid input unchanged


def test_plot_history_refuses_infinite_and_nan_validation_losses():
    with pytest.raises(ValueError, match="NaN or infinite"):
        viz.plot_history(SimpleNamespace(steps=[{"step": 1, "loss": float("inf")}], epochs=[]))
    with pytest.raises(ValueError, match="NaN or infinite"):
        viz.plot_history(history(val_loss=float("nan")))
    assert isinstance(viz.plot_history(history(val_loss=2.1)), Figure)


def test_plot_length_histogram_refuses_nested_lists_and_survives_a_huge_count():
    with pytest.raises(ValueError, match="flat list"):
        viz.plot_length_histogram({"de": [[1, 2], [3, 4]]})
    with pytest.raises(InputTypeError):
        viz.plot_length_histogram({"de": 5})
    fig = viz.plot_length_histogram({"de": [3, 10 ** 9]})  # once allocated 10**9 bins
    patches = fig.axes[0].patches
    assert 0 < len(patches) <= 250
    small = viz.plot_length_histogram({"de": [1, 2, 2, 5]})
    assert len(small.axes[0].patches) == 6, "short sentences keep one bin per token count"


def test_bleu_tables_need_numbers():
    bad = BLEU.assign(bleu=["x", "y"])
    for call in (viz.plot_bleu_by_length, compare.compare_bleu_by_length):
        with pytest.raises(ValueError, match="'bleu' column"):
            call({"a": bad})


def trace_with(**changes):
    fields = dict(step=0, prefix=[], token="a", topk_tokens=["a", "b"], topk_probs=[0.7, 0.2], attn_weights=[0.9, 0.1])
    fields.update(changes)
    return [StepTrace(**fields)]


@pytest.mark.parametrize("changes, match", [
    (dict(attn_weights="ab"), "attn_weights"),
    (dict(attn_weights=[float("nan"), 0.5]), "finite"),
    (dict(attn_weights=[[0.5, 0.5]]), "shape"),
    (dict(topk_tokens="ab"), "topk_tokens"),
    (dict(token=None), "token must be a str"),
    (dict(prefix="ab"), "prefix"),
])
def test_decoder_step_frames_check_each_step(changes, match):
    for call in (viz.plot_decoder_step, viz.stepper_frame):
        with pytest.raises(ValueError, match=match):
            call(trace_with(**changes), ["x", "<eos>"], 0)


def test_beam_entry_checks_status_type_and_log_prob():
    with pytest.raises(ValueError, match="status"):
        BeamEntry(("a",), -1.0, ["kept"])
    for bad in ("x", float("nan"), True, torch.zeros(2)):
        with pytest.raises(ValueError, match="log_prob"):
            BeamEntry(("a",), -1.0, "kept", bad)
    assert BeamEntry(("a",), -1.0, "kept", None).log_prob is None
    assert BeamEntry(("a",), -1.0, "kept", -2).log_prob == -2


@pytest.mark.parametrize("item", [None, (["a"],), (["a"], -1.0, 3), "ab"])
def test_format_n_best_refuses_items_that_are_not_pairs(item):
    with pytest.raises(InputTypeError, match="pair"):
        viz.format_n_best([item])


@pytest.mark.parametrize("score", [None, "x", float("nan"), True])
def test_format_n_best_refuses_scores_that_are_not_numbers(score):
    with pytest.raises(ValueError, match="score must be a number"):
        viz.format_n_best([(["a"], score)])


def test_figures_leave_rcparams_alone():
    before = dict(matplotlib.rcParams)
    viz.plot_attention(W, SRC, TGT)
    viz.plot_bleu_by_length({"a": BLEU})
    compare.plot_beam_sweep(SWEEP)
    compare.plot_variant_comparison(VARIANTS, metrics=[("val_ppl", "ppl")])
    explorer.plot_explorer(explorer.attention_steps([10.0, 5.0, 10.0]))
    after = dict(matplotlib.rcParams)
    assert [k for k in before if before[k] != after[k]] == []


# -- compare ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [dict(x=None), dict(y=None), dict(x=["beam_size"]), dict(hue=5)])
def test_plot_beam_sweep_column_names_must_be_str(kwargs):
    with pytest.raises(InputTypeError):  # x=None was a KeyError from pandas
        compare.plot_beam_sweep(SWEEP, **kwargs)


@pytest.mark.parametrize("metrics", [[(5, "x")], [("val_ppl", None)], [5], 5, torch.zeros(0), torch.zeros(2)])
def test_plot_variant_comparison_metrics_are_pairs_of_str(metrics):
    with pytest.raises(InputTypeError):  # (5, "x") was an AttributeError (.lower), tensors a RuntimeError
        compare.plot_variant_comparison(VARIANTS, metrics=metrics)


def test_compare_refuses_non_str_baseline_name_column_and_panel_titles():
    with pytest.raises(InputTypeError):
        compare.compare_bleu_by_length({"a": BLEU}, baseline=["a"])
    with pytest.raises(InputTypeError):
        compare.plot_variant_comparison(VARIANTS, metrics=[("val_ppl", "p")], name_column=["variant"])
    with pytest.raises(InputTypeError, match="panel title"):
        compare.plot_attention_grid({5: (W, SRC, TGT)})


# -- explorer --------------------------------------------------------------------------------


@pytest.mark.parametrize("mask", [["x", ""], [0.5, 0.0], 5, [None, None]])
def test_attention_steps_pad_mask_holds_bools_only(mask):
    with pytest.raises(InputTypeError, match="pad_mask"):  # ["x", ""] was read as [True, False]
        explorer.attention_steps([1.0, 2.0], [[1.0, 2.0], [1.0, 1.0]], pad_mask=mask)
    for ok in ([False, True], [0, 1], np.array([False, True]), torch.tensor([False, True])):
        steps = explorer.attention_steps([1.0, 2.0], [[1.0, 2.0], [1.0, 1.0]], pad_mask=ok)
        assert steps["weights"][1] == 0.0


@pytest.mark.parametrize("names, error", [(None, InputTypeError), (5, InputTypeError), (["dot", "dot"], ValueError)])
def test_compare_score_functions_names(names, error):
    with pytest.raises(error):
        explorer.compare_score_functions(names=names)


@pytest.mark.parametrize("figsize", [5, 2.5])
def test_explorer_figsize_must_be_a_pair(figsize):
    with pytest.raises(ValueError, match="figsize"):
        explorer.plot_explorer(explorer.attention_steps([10.0, 5.0, 10.0]), figsize=figsize)


# -- widgets ---------------------------------------------------------------------------------


def test_play_slider_checks_its_text_arguments():
    pytest.importorskip("ipywidgets")
    from course_lib.widgets import play_slider

    for kwargs in (dict(description=5), dict(slider_class=5), dict(play_class=torch.zeros(2)), dict(slider_class=[])):
        with pytest.raises(InputTypeError):  # were a TraitError / RuntimeError, or silently str()-ed
            play_slider(2, lambda i: None, **kwargs)


@pytest.mark.parametrize("which", ["model", "src_vocab", "tgt_vocab"])
def test_decoder_stepper_and_beam_explorer_refuse_a_wrong_model_or_vocab(which):
    pytest.importorskip("ipywidgets")
    from course_lib.widgets import beam_explorer, decoder_stepper
    from tests.test_widgets_beam import VOCAB, tiny_model

    args = dict(model=tiny_model(), sentence="w1 w2", src_tokenizer=str.split, src_vocab=VOCAB, tgt_vocab=VOCAB)
    for bad in (None, "x", 5):
        kwargs = {**args, which: bad}
        # decoder_stepper: an AttributeError inside decoding; beam_explorer: a widget showing the error
        with pytest.raises(InputTypeError):
            decoder_stepper(**kwargs)
        with pytest.raises(InputTypeError):
            beam_explorer(**kwargs)


@pytest.mark.parametrize("kwargs, error", [
    (dict(value_range=None), InputTypeError),
    (dict(value_range=5), InputTypeError),
    (dict(score_names=None), InputTypeError),
    (dict(score_names=5), InputTypeError),
    (dict(score_names=["dot", "nope"]), ValueError),
])
def test_score_function_explorer_checks_its_choices(kwargs, error):
    pytest.importorskip("ipywidgets")
    from course_lib.widgets import score_function_explorer

    with pytest.raises(error):
        score_function_explorer(**kwargs)


def test_attention_animation_title_must_be_text():
    pytest.importorskip("ipywidgets")
    from course_lib.decoding import Translation
    from course_lib.widgets import attention_animation

    tr = Translation(src_tokens=["a", "<eos>"], tokens=["x"], attn_weights=W)
    with pytest.raises(InputTypeError):
        attention_animation(tr, title=torch.zeros(2))


# -- translate (the command line) ------------------------------------------------------------


def test_read_sentences_refuses_a_bare_str_and_non_str_items():
    with pytest.raises(InputTypeError, match="list"):  # was split into letters
        translate.read_sentences("ein Hund", None, io.StringIO(""))
    for bad in ([None], [["a"]], torch.zeros(2)):
        with pytest.raises(InputTypeError):
            translate.read_sentences(bad, None, io.StringIO(""))
    assert translate.read_sentences(["a b", " "], None, None) == (["a b"], 1)


@pytest.mark.parametrize("bad", [1, 0, True, 2.5, torch.zeros(2)])
def test_read_sentences_refuses_a_file_that_is_not_a_path(bad, capsys):
    # an int was opened as a file descriptor: file=1 read and then CLOSED standard output
    with pytest.raises(InputTypeError, match="file must be a path"):
        translate.read_sentences([], bad, io.StringIO(""))
    print("stdout still open")
    assert "stdout still open" in capsys.readouterr().out


def test_read_sentences_folder_and_missing_stdin(tmp_path):
    with pytest.raises(ValueError, match="folder"):
        translate.read_sentences([], str(tmp_path), io.StringIO(""))
    with pytest.raises(InputTypeError, match="stdin"):
        translate.read_sentences([], None, None)
    f = tmp_path / "s.txt"
    f.write_text("a\n\nb\n", encoding="utf-8")
    assert translate.read_sentences([], f, None) == (["a", "b"], 1)


@pytest.mark.parametrize("argv", ["model.zip", 5, [None], ["model.zip", 3]])
def test_translate_main_refuses_argv_that_is_not_a_list_of_str(argv, capsys):
    assert translate.main(argv) == 2  # a str was split into letters: bundle 'm'
    err = capsys.readouterr().err
    assert "argv must be a list of str" in err


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(src_tokens=None), InputTypeError, "src_tokens"),
    (dict(tgt_tokens="xy"), InputTypeError, "tgt_tokens"),
    (dict(weights="ab"), InputTypeError, "numbers"),
    (dict(weights=[[1.0, 2.0], [3.0]]), InputTypeError, "numbers"),
    (dict(weights=[[float("nan"), 1.0], [0.0, 1.0]]), ValueError, "NaN"),
    (dict(weights=np.zeros((0, 0)), src_tokens=[], tgt_tokens=[]), ValueError, "empty"),
])
def test_attention_table_bad_input(kwargs, error, match):
    args = dict(weights=W, src_tokens=SRC, tgt_tokens=TGT)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        translate.attention_table(**args)


def test_attention_table_accepts_numpy_decimals():
    assert translate.attention_table(W, SRC, TGT, decimals=np.int64(1)) == translate.attention_table(W, SRC, TGT, 1)


# -- runner ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [dict(lessons=None), dict(lessons=5), dict(lessons=[None]), dict(out_dir=None),
                                    dict(kernel_name=""), dict(kernel_name=5)])
def test_run_lessons_refuses_wrong_types_before_any_work(kwargs, tmp_path):
    args = dict(lessons=[tmp_path / "x.ipynb"], profile="ci", out_dir=tmp_path / "out")
    args.update(kwargs)
    with pytest.raises(InputTypeError):
        runner.run_lessons(**args)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv", ["--profile ci", 5, ["--profile", None]])
def test_runner_main_refuses_argv_that_is_not_a_list_of_str(argv):
    with pytest.raises(InputTypeError, match="argv"):
        runner.main(argv)


# -- fonts -------------------------------------------------------------------------------------


@pytest.mark.parametrize("family, error", [(5, TypeError), ({"DejaVu Sans": 1}, TypeError), ([], ValueError),
                                           ("", ValueError), ([" "], ValueError)])
def test_missing_glyphs_family(family, error):
    with pytest.raises(error, match="family"):
        fonts.missing_glyphs("abc", family=family)


def test_missing_glyphs_refuses_a_dict_of_texts():
    with pytest.raises(TypeError):
        fonts.missing_glyphs({"abc": 1})


def test_find_script_font_says_a_folder_is_a_folder(tmp_path):
    with pytest.raises(ValueError, match="is a folder"):
        fonts.find_script_font("greek", [tmp_path])


# -- bundle ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def saved_bundle(tmp_path_factory):
    from course_lib.bundle import save_bundle
    from tests.test_bundle import trained

    model, data = trained("bahdanau", "char", steps=2)
    path = save_bundle(tmp_path_factory.mktemp("bundle") / "b.zip", model, data)
    return path, model, data


def test_translator_detokenize_refuses_a_bare_str(saved_bundle):
    from course_lib.bundle import load_bundle

    tr = load_bundle(saved_bundle[0])
    for bad in ("hallo welt", None, 5, [None]):
        with pytest.raises(InputTypeError, match="tokens"):
            tr.detokenize(bad)
    assert tr.detokenize(["1", "2"]) == tr.tgt_tokenizer.detokenize(["1", "2"])


@pytest.mark.parametrize("bad", [None, True, 5, ["b.zip"], ""])
def test_save_bundle_refuses_a_path_that_is_not_one_and_writes_nothing(bad, saved_bundle, tmp_path, monkeypatch):
    from course_lib.bundle import save_bundle

    _, model, data = saved_bundle
    monkeypatch.chdir(tmp_path)
    with pytest.raises((TypeError, ValueError), match="path"):
        save_bundle(bad, model, data)
    assert list(tmp_path.iterdir()) == []


def test_load_bundle_refuses_version_true(saved_bundle, tmp_path):
    import json
    import zipfile

    from course_lib.bundle import BundleError, load_bundle

    src = saved_bundle[0]
    dst = tmp_path / "t.zip"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            data = zin.read(name)
            if name == "manifest.json":
                manifest = json.loads(data)
                manifest["version"] = True  # == 1 in Python, but not a format version
                data = json.dumps(manifest).encode()
            zout.writestr(name, data)
    before = dst.read_bytes()
    with pytest.raises(BundleError, match="format version"):
        load_bundle(dst)
    assert dst.read_bytes() == before


@pytest.mark.parametrize("prog", [None, 5, "", ["x"]])
def test_build_parser_prog_must_be_a_name(prog):
    with pytest.raises(InputTypeError, match="prog"):
        translate.build_parser(prog)


def test_translator_frame_detokenize_must_return_text():
    from course_lib.decoding import Translation

    tr = Translation(src_tokens=["a", "<eos>"], tokens=["x"], attn_weights=W, score=-1.0)
    with pytest.raises(InputTypeError, match="detokenize must return a str"):  # was an AttributeError in html.escape
        viz.translator_frame(tr, detokenize=lambda tokens: len(tokens))
    with pytest.raises(InputTypeError, match="title"):
        viz.translator_frame(tr, title=torch.zeros(2))
    html_text, png = viz.translator_frame(tr, detokenize=" ".join)
    assert "x" in html_text and png[:4] == b"\x89PNG"


@pytest.mark.parametrize("key, value", [("scores", None), ("scores", "abc"), ("weights", [0.5]),
                                        ("context", [float("nan")] * 3), ("encoder_states", [1.0, 2.0]),
                                        ("score_name", 5), ("temperature", "hot")])
def test_explorer_steps_dicts_are_checked_before_drawing(key, value):
    steps = dict(explorer.attention_steps([10.0, 5.0, 10.0]))
    steps[key] = value
    for call in (explorer.format_steps, lambda s: explorer.describe_step(s, 2), explorer.plot_explorer,
                 lambda s: explorer.plot_attention_steps(s, 4), lambda s: explorer.plot_score_functions({"x": s})):
        with pytest.raises(ValueError, match="steps"):  # were TypeErrors from deep inside, or silent
            call(steps)


@pytest.mark.parametrize("path", ["", "   "])
def test_load_bundle_says_an_empty_path_is_empty(path):
    from course_lib.bundle import BundleError, load_bundle

    with pytest.raises(BundleError, match="path is empty"):  # was "'.' is a folder"
        load_bundle(path)


@pytest.mark.parametrize("tokens", [{"a": 1, "<eos>": 2}, {"a", "<eos>"}])
def test_token_labels_must_be_ordered(tokens):
    with pytest.raises(InputTypeError, match="in order"):  # a dict gave its keys, a set a random order
        viz.plot_attention(W, tokens, TGT)


def test_run_lessons_out_dir_that_cannot_be_created_is_a_value_error(tmp_path):
    nb = tmp_path / "01_x.ipynb"
    nb.write_text("{}", encoding="utf-8")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ValueError, match="cannot create out_dir"):  # was NotADirectoryError from mkdir
        runner.run_lessons([nb], "ci", blocker / "sub")


def test_figure_to_png_refuses_a_picture_that_would_exhaust_memory():
    with pytest.raises(ValueError, match="pixels"):  # dpi=10**6 was a MemoryError (std::bad_alloc)
        viz.figure_to_png(Figure(), dpi=10 ** 6)
    assert viz.figure_to_png(Figure(figsize=(1, 1)), dpi=20)[:4] == b"\x89PNG"


def test_explorer_refuses_a_figure_too_large_to_draw():
    steps = explorer.attention_steps([10.0, 5.0, 10.0])
    with pytest.raises(ValueError, match="pixels"):
        explorer.plot_explorer(steps, figsize=(1e5, 2.0))
    with pytest.raises(ValueError, match="pixels"):
        explorer.plot_attention_steps(steps, dpi=1e6)



def test_play_slider_and_beam_view_records_check_their_fields():
    from course_lib.widgets import BeamView, PlaySlider

    with pytest.raises(InputTypeError, match="play_slider"):
        PlaySlider(None, None, None, lambda i: None)
    with pytest.raises(InputTypeError, match="frames"):
        BeamView("abc", [], [])
    with pytest.raises(ValueError, match="frames is empty"):
        BeamView([], [], [])
    with pytest.raises(InputTypeError, match="n_best"):
        BeamView([[BeamEntry(("a",), -1.0)]], "a b", [])
    assert BeamView([[BeamEntry(("a",), -1.0)]], [(["a"], -1.0)], []).n_best == [(["a"], -1.0)]


@pytest.mark.parametrize("n_frames", [0, -1, "3", None, True])
def test_check_step_refuses_a_bad_frame_count(n_frames):
    with pytest.raises(ValueError, match="n_frames"):
        viz.check_step(0, n_frames)


@pytest.mark.parametrize("hyp", [
    SimpleNamespace(tokens="ab", score=-1.0, log_prob=-1.0, finished=False),
    SimpleNamespace(tokens=[4], score=None, log_prob=-1.0, finished=False),
    SimpleNamespace(tokens=None, score=-1.0, log_prob=-1.0, finished=False),
    SimpleNamespace(tokens=[4.5], score=-1.0, log_prob=-1.0, finished=False),
    "w0",
])
def test_beam_frames_refuses_malformed_hypotheses(hyp):
    from tests.test_widgets_beam import VOCAB

    steps = [SimpleNamespace(step=0, kept=[hyp], parents=[0], finished=[])]
    with pytest.raises(InputTypeError, match="not a decoding.Hypothesis"):
        viz.beam_frames(steps, VOCAB)
