"""``course-translate``: translate sentences from a shell with a saved translator bundle.

Run as ``course-translate BUNDLE [SENTENCE ...]`` (the console script) or
``python -m course_lib.translate BUNDLE [SENTENCE ...]``; ``--help`` explains everything.
A bundle is the one file :func:`course_lib.bundle.save_bundle` writes (lessons 03-05 end by
saving theirs). Beam search with length normalisation and coverage penalty follows Wu et
al. (2016), sec. 7, eq. 14.

Exit codes: 0 success; 2 a usage error, a missing or invalid bundle, or nothing to translate
(one line on standard error, no traceback); 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional, Sequence

__all__ = ["main", "cli", "attention_table", "build_parser", "read_sentences"]

_DESCRIPTION = """\
Translate sentences with a translator you trained in the course.

A *bundle* is ONE file that holds everything a trained model needs to translate: its
weights and configuration, both vocabularies, the tokenizer settings (or subword model),
and the scores it reached. Lessons 03, 04 and 05 end by saving one, e.g.

    from course_lib.bundle import save_bundle
    save_bundle("bahdanau.bundle.zip", model, data, metrics={"bleu": bleu.score})

Give this command the bundle file and the sentences to translate, in the source language
the model was trained on (German for the Multi30k lessons). Sentences come from the
arguments, or from a file (--file, one per line), or else from standard input (one per
line; end with Ctrl-D). Blank lines are skipped (a note on standard error says how many).
It prints one translation per line, in order; with --n-best N, each sentence gets a header
line and its N best translations, numbered, with their scores (higher is better)."""

_EPILOG = """\
examples:
  course-translate bahdanau.bundle.zip "Ein Mann fährt Fahrrad."
  course-translate gnmt.bundle.zip --beam-size 8 --alpha 0.6 --beta 0.2 "Zwei Hunde spielen im Schnee."
  course-translate gnmt.bundle.zip --n-best 3 "Eine Frau liest ein Buch."
  course-translate luong.bundle.zip --greedy --show-attention "Ein Kind spielt."
  course-translate luong.bundle.zip --file sentences.de.txt > translations.en.txt
  echo "Ein Hund rennt." | python -m course_lib.translate bahdanau.bundle.zip
  course-translate bahdanau.bundle.zip --info        # what the bundle holds, its scores

exit status: 0 success; 2 bad arguments, a missing or invalid bundle, or no sentence to
translate (one line on standard error); 130 interrupted."""


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (and a pointer to --help) and exit status 2."""

    def error(self, message: str):  # noqa: D401 - argparse API
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser(prog: str = "course-translate") -> argparse.ArgumentParser:
    """The command's argument parser (exposed for tests and documentation).

    Raises:
        TypeError (``course_lib.viz.InputTypeError``, also a ValueError): ``prog`` is not a
            non-empty str.
    """
    if not isinstance(prog, str) or not prog.strip():
        from .viz import InputTypeError

        raise InputTypeError(f"prog must be the command's name as a non-empty str, got {prog!r:.40}")
    p = _Parser(prog=prog, description=_DESCRIPTION, epilog=_EPILOG,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bundle", metavar="BUNDLE", help="the bundle file written by course_lib.bundle.save_bundle")
    p.add_argument("sentences", metavar="SENTENCE", nargs="*",
                   help="sentences to translate (quote each one); if none and no --file, read standard input")
    p.add_argument("-f", "--file", metavar="PATH", help="read the sentences from this text file, one per line (UTF-8)")
    p.add_argument("-b", "--beam-size", type=int, default=None, metavar="K",
                   help="hypotheses kept at each step of beam search (default 5; 1 = greedy)")
    p.add_argument("--alpha", type=float, default=0.6,
                   help="length normalisation strength (GNMT's alpha, default 0.6; 0 = plain log-probability)")
    p.add_argument("--beta", type=float, default=0.0,
                   help="coverage penalty strength (GNMT's beta, default 0; try 0.2)")
    p.add_argument("-n", "--n-best", type=int, default=1, metavar="N",
                   help="print the N best translations of each sentence with their scores (N <= beam size)")
    p.add_argument("--max-len", type=int, default=None, metavar="T",
                   help="most target tokens per sentence (default: grows with the source length)")
    p.add_argument("-g", "--greedy", action="store_true",
                   help="greedy search: the same as --beam-size 1 --alpha 0 --beta 0")
    p.add_argument("-a", "--show-attention", action="store_true",
                   help="after each translation print the attention matrix of the best one: source tokens "
                        "(and <eos>) as columns, generated tokens (and <eos>) as rows; each row sums to 1 and "
                        "its largest weight is marked *")
    p.add_argument("--info", action="store_true",
                   help="print what the bundle holds (model, sizes, tokenizers, versions) and the metrics it "
                        "reached; with no sentences, only that")
    p.add_argument("--device", choices=("cpu", "cuda", "mps"), default="cpu",
                   help="where to run the model (default cpu)")
    return p


def attention_table(weights, src_tokens: Sequence[str], tgt_tokens: Sequence[str], decimals: int = 2) -> str:
    """A plain-text table of an attention matrix: one column per source token, one row per target token.

    Args:
        weights: ``[T, S]`` tensor or array (e.g. :attr:`Translation.attn_weights`).
        src_tokens: ``S`` column labels. tgt_tokens: ``T`` row labels
            (:attr:`Translation.row_labels`).
        decimals: digits after the point (``0..4``).

    Returns:
        The table as lines joined by ``"\\n"`` (a header row of source tokens, then one row
        per target token; the largest weight of each row is marked with ``*``).

    Raises:
        ValueError: ``weights`` is not 2-D, is empty, holds NaN or infinite values, or its
            shape does not match the labels; a bad ``decimals``; no tokens.
        TypeError (``course_lib.viz.InputTypeError``, also a ValueError): a bare str, ``None``
            or non-str items for the tokens; weights that are not numbers.
    """
    from numbers import Integral

    import numpy as np

    from .viz import as_matrix, check_tokens

    src_tokens = check_tokens(src_tokens, "src_tokens")
    tgt_tokens = check_tokens(tgt_tokens, "tgt_tokens")
    if isinstance(decimals, bool) or not isinstance(decimals, Integral) or not 0 <= decimals <= 4:
        raise ValueError(f"decimals must be an integer in 0..4, got {decimals!r}")
    decimals = int(decimals)
    if hasattr(weights, "ndim") and weights.ndim != 2:
        raise ValueError(f"attention weights must be a [T, S] matrix, got shape {tuple(weights.shape)}")
    w = as_matrix(weights, "attention weights")
    if w.shape != (len(tgt_tokens), len(src_tokens)):
        raise ValueError(f"attention weights have shape {tuple(w.shape)} but there are {len(tgt_tokens)} target "
                         f"and {len(src_tokens)} source tokens")
    cells = [[f"{v:.{decimals}f}" for v in row] for row in w]
    for r, row in enumerate(w):
        if row.size and np.isfinite(row).any():
            j = int(np.nanargmax(row))
            cells[r][j] += "*"
    widths = [max([len(s)] + [len(cells[r][j]) for r in range(len(cells))]) for j, s in enumerate(src_tokens)]
    label_w = max([len(t) for t in tgt_tokens] + [0])
    lines = [" " * label_w + " | " + " ".join(s.rjust(wd) for s, wd in zip(src_tokens, widths))]
    lines.append("-" * label_w + "-+-" + "-".join("-" * wd for wd in widths))
    for t, row in zip(tgt_tokens, cells):
        lines.append(t.ljust(label_w) + " | " + " ".join(c.rjust(wd) for c, wd in zip(row, widths)))
    return "\n".join(lines)


def read_sentences(args_sentences: Sequence[str], file: Optional[str], stdin) -> tuple[List[str], int]:
    """The sentences to translate and how many blank ones were skipped.

    From ``args_sentences`` if any, else from ``file`` (UTF-8, one per line), else from
    ``stdin``; surrounding whitespace is stripped and blank lines are skipped.

    Raises:
        ValueError: both sentences and ``file`` were given; ``file`` is a folder.
        TypeError (also a ValueError): ``args_sentences`` is a bare str (give a list) or holds
            non-str items; ``file`` is not a path (a number would be read as a file
            descriptor); ``stdin`` has no ``read()`` when it is needed.
        OSError: ``file`` cannot be read (missing, no permission).
    """
    from .viz import InputTypeError

    if args_sentences is None:
        args_sentences = []
    if isinstance(args_sentences, (str, bytes)) or not isinstance(args_sentences, (list, tuple)):
        raise InputTypeError(f"args_sentences must be a list of sentences, got {type(args_sentences).__name__} "
                             f"({args_sentences!r:.40}); wrap one sentence in a list")
    bad = [s for s in args_sentences if not isinstance(s, str)]
    if bad:
        raise InputTypeError(f"args_sentences must hold str sentences, got {bad[0]!r:.40} ({type(bad[0]).__name__})")
    if file is not None and (isinstance(file, bool) or not isinstance(file, (str, os.PathLike))):
        raise InputTypeError(f"file must be a path (str or Path) or None, got {type(file).__name__} ({file!r:.40})")
    if file is not None and str(file) == "":
        file = None
    if args_sentences and file:
        raise ValueError("give sentences either as arguments or with --file, not both")
    if file and os.path.isdir(file):
        raise ValueError(f"{file} is a folder; give a text file with one sentence per line")
    if not args_sentences and not file and not callable(getattr(stdin, "read", None)):
        raise InputTypeError(f"stdin must be a readable text stream (with .read()), got {type(stdin).__name__}")
    if args_sentences:
        raw = list(args_sentences)
    elif file:
        with open(file, encoding="utf-8") as handle:
            raw = handle.read().splitlines()
    else:
        raw = stdin.read().splitlines()
    kept = [s.strip() for s in raw if s.strip()]
    return kept, len(raw) - len(kept)


def _fail(prog: str, message: str) -> int:
    print(f"{prog}: error: {' '.join(str(message).split())}", file=sys.stderr)
    return 2


def main(argv: Optional[Sequence[str]] = None, prog: str = "course-translate") -> int:
    """Run the command with ``argv`` (default ``sys.argv[1:]``); returns the exit status.

    The console script ``course-translate`` calls it. Never raises for bad input: errors
    become one line on standard error and status 2 (argparse's own usage errors exit with
    ``SystemExit(2)``); Ctrl-C gives 130, a closed output pipe 0. An ``argv`` that is not a
    list of str (e.g. one str, which would be split into letters) is such an error too.
    """
    if not isinstance(prog, str):
        prog = "course-translate"
    if argv is not None and (isinstance(argv, (str, bytes)) or not isinstance(argv, (list, tuple))
                             or not all(isinstance(a, str) for a in argv)):
        return _fail(prog, f"argv must be a list of str arguments (e.g. ['model.zip', 'Ein Hund.']), got "
                           f"{argv!r:.60}")
    try:
        return _run(argv, prog)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. piped into head
        try:
            sys.stdout = open(os.devnull, "w")  # no second error when Python flushes at exit
        except OSError:
            pass
        return 0


def _run(argv: Optional[Sequence[str]], prog: str) -> int:
    parser = build_parser(prog)
    args = parser.parse_intermixed_args(argv)
    if args.greedy:
        if args.n_best != 1 or args.beam_size not in (None, 1):
            return _fail(prog, "--greedy keeps one hypothesis: drop --beam-size/--n-best or --greedy")
        args.beam_size, args.alpha, args.beta = 1, 0.0, 0.0
    if args.beam_size is None:
        args.beam_size = 5
    if args.beam_size < 1:
        return _fail(prog, f"--beam-size must be at least 1, got {args.beam_size}")
    if not 1 <= args.n_best <= args.beam_size:
        return _fail(prog, f"--n-best must be between 1 and the beam size ({args.beam_size}), got {args.n_best}")
    if args.max_len is not None and args.max_len < 1:
        return _fail(prog, f"--max-len must be at least 1, got {args.max_len}")

    from .bundle import load_bundle  # torch is imported only now (fast --help)

    try:
        translator = load_bundle(args.bundle, device=args.device)
    except (ValueError, TypeError) as err:  # BundleError is a ValueError; an unavailable device too
        return _fail(prog, str(err))
    if args.info:
        print(translator.describe())
        if not args.sentences and not args.file:
            return 0
        print()
    try:
        if not args.sentences and not args.file and sys.stdin.isatty():
            print("type sentences to translate, one per line; end with Ctrl-D", file=sys.stderr)
        sentences, skipped = read_sentences(args.sentences, args.file, sys.stdin)
    except (ValueError, OSError, UnicodeDecodeError) as err:
        return _fail(prog, f"cannot read the sentences: {err}")
    if skipped:
        print(f"{prog}: note: skipped {skipped} blank line{'s' if skipped > 1 else ''}", file=sys.stderr)
    if not sentences:
        return _fail(prog, "no sentence to translate (give sentences as arguments, with --file, or on standard input)")

    for start in range(0, len(sentences), 32):
        chunk = sentences[start:start + 32]
        try:
            results = translator.translate(chunk, beam_size=args.beam_size, alpha=args.alpha, beta=args.beta,
                                           n_best=args.n_best, max_len=args.max_len)
        except (ValueError, TypeError) as err:
            return _fail(prog, str(err))
        for i, (sentence, tr) in enumerate(zip(chunk, results), start=start + 1):
            _print_result(translator, i, sentence, tr, args)
    sys.stdout.flush()
    return 0


def _print_result(translator, number: int, sentence: str, tr, args) -> None:
    if args.n_best > 1:
        print(f"[{number}] {sentence}")
        for rank, hyp in enumerate([tr] + list(tr.alternatives), start=1):
            score = f"{hyp.score:.3f}" if hyp.score is not None else "n/a"
            print(f"  {rank}. ({score}) {translator.detokenize(hyp.tokens)}")
    else:
        print(translator.detokenize(tr.tokens))
    if args.show_attention:
        if tr.attn_weights is None:
            print("(this model has no attention: nothing to show)")
        else:
            print(attention_table(tr.attn_weights, tr.src_tokens, tr.row_labels))
        print()


cli = main
"""Alias of :func:`main` (either works as the console-script entry point)."""


if __name__ == "__main__":
    sys.exit(main(prog="python -m course_lib.translate"))
