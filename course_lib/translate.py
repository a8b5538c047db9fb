"""``course-translate BUNDLE [SENTENCE ...]`` (or ``python -m course_lib.translate``): translate from a shell.

A bundle is the one file :func:`course_lib.bundle.save_bundle` writes; ``--help`` explains the
rest. Beam search with length normalisation and coverage penalty: Wu et al. (2016), sec. 7,
eq. 14. Exit codes: 0 success; 2 a usage error, a missing or invalid bundle, or nothing to
translate (one line on standard error, no traceback); 130 interrupted. Output never fails on
user text: what the terminal cannot encode (e.g. argument bytes that were not UTF-8) is printed
with backslash escapes, and such bytes are translated as U+FFFD, an unknown word.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import List, Optional, Sequence

__all__ = ["main", "cli", "attention_table", "build_parser", "read_sentences"]

_DESCRIPTION = """\
Translate sentences with a translator you trained in the course. A *bundle* is ONE file with
everything a trained model needs to translate (weights, configuration, vocabularies,
tokenizers, scores); lessons 03-05 save one with course_lib.bundle.save_bundle:

    save_bundle("bahdanau.bundle.zip", model, data, metrics={"bleu": bleu.score})

Sentences, in the model's source language, come from the arguments, or a file (--file, one per
line), or else standard input (one per line; end with Ctrl-D); blank lines are skipped. It
prints one translation per line; with --n-best N, a header line per sentence and its N best
translations, numbered, with their scores (higher is better)."""

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

_SURROGATES = re.compile("[\ud800-\udfff]")  # how Python reads argument bytes that are not UTF-8


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (and a pointer to --help), exit status 2."""

    def error(self, message: str):  # noqa: D401 - argparse API
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser(prog: str = "course-translate") -> argparse.ArgumentParser:
    """The command's argument parser.

    Raises:
        InputTypeError: ``prog`` is not a non-empty str.
    """
    from .checks import InputTypeError, require  # here, not above: torch stays unloaded and --help fast

    require(isinstance(prog, str) and prog.strip(), f"prog must be the command's name, a non-empty str; got {prog!r:.40}",
            InputTypeError)
    p = _Parser(prog=prog, description=_DESCRIPTION, epilog=_EPILOG,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    add = p.add_argument
    add("bundle", metavar="BUNDLE", help="the bundle file written by course_lib.bundle.save_bundle")
    add("sentences", metavar="SENTENCE", nargs="*",
        help="sentences to translate (quote each one); if none and no --file, read standard input")
    add("-f", "--file", metavar="PATH", help="read the sentences from this text file, one per line (UTF-8)")
    add("-b", "--beam-size", type=int, default=None, metavar="K",
        help="hypotheses kept at each step of beam search (default 5; 1 = greedy)")
    add("--alpha", type=float, default=0.6,
        help="length normalisation strength (GNMT's alpha, default 0.6; 0 = plain log-probability)")
    add("--beta", type=float, default=0.0, help="coverage penalty strength (GNMT's beta, default 0; try 0.2)")
    add("-n", "--n-best", type=int, default=1, metavar="N",
        help="print the N best translations of each sentence with their scores (N <= beam size)")
    add("--max-len", type=int, default=None, metavar="T",
        help="most target tokens per sentence (default: grows with the source length)")
    add("-g", "--greedy", action="store_true", help="greedy search: the same as --beam-size 1 --alpha 0 --beta 0")
    add("-a", "--show-attention", action="store_true",
        help="after each translation print the attention matrix of the best one: source tokens (and <eos>) as "
             "columns, generated tokens (and <eos>) as rows; each row sums to 1, its largest weight is marked *")
    add("--info", action="store_true",
        help="print what the bundle holds (model, sizes, tokenizers, versions, scores); with no sentences, only that")
    add("--device", choices=("cpu", "cuda", "mps"), default="cpu", help="where to run the model (default cpu)")
    return p


def attention_table(weights, src_tokens: Sequence[str], tgt_tokens: Sequence[str], decimals: int = 2) -> str:
    """A text table of an attention matrix ``weights`` ``[T, S]``: a column per source token, a row per target token.

    The largest weight of each row is marked ``*``; ``decimals``: ``0..4``.

    Raises:
        ValueError: ``weights`` not 2-D, empty, not finite, or not matching the labels; a bad ``decimals``.
        InputTypeError: tokens that are a bare str, ``None`` or non-str; weights that are not numbers.
    """
    from .checks import check_int, check_tokens
    from .utils import require
    from .viz import as_matrix

    src_tokens, tgt_tokens = check_tokens(src_tokens, "src_tokens"), check_tokens(tgt_tokens, "tgt_tokens")
    decimals = check_int(decimals, "decimals", low=0, high=4)
    w = as_matrix(weights, "attention weights")
    require(w.shape == (len(tgt_tokens), len(src_tokens)), f"attention weights have shape {w.shape} but there are "
            f"{len(tgt_tokens)} target and {len(src_tokens)} source tokens")
    cells = [[f"{v:.{decimals}f}" + ("*" if j == best else "") for j, v in enumerate(row)]
             for row, best in zip(w, w.argmax(axis=1))]
    widths = [max([len(s)] + [len(row[j]) for row in cells]) for j, s in enumerate(src_tokens)]
    label_w = max(len(t) for t in tgt_tokens)
    lines = [" " * label_w + " | " + " ".join(s.rjust(wd) for s, wd in zip(src_tokens, widths)),
             "-" * label_w + "-+-" + "-".join("-" * wd for wd in widths)]
    lines += [t.ljust(label_w) + " | " + " ".join(c.rjust(wd) for c, wd in zip(row, widths))
              for t, row in zip(tgt_tokens, cells)]
    return "\n".join(lines)


def read_sentences(args_sentences: Sequence[str], file: Optional[str], stdin) -> tuple[List[str], int]:
    """The sentences to translate (stripped, blank ones skipped) and how many were skipped.

    From ``args_sentences`` if any, else ``file`` (UTF-8, one per line), else ``stdin``.

    Raises:
        ValueError: both sentences and ``file``; ``file`` a folder. OSError: ``file`` unreadable.
        InputTypeError: ``args_sentences`` not a list of str; ``file`` not a path; ``stdin`` without ``read()``.
    """
    from .checks import InputTypeError, check_texts
    from .utils import require

    args_sentences = check_texts([] if args_sentences is None else args_sentences, "args_sentences")
    require(file is None or isinstance(file, (str, os.PathLike)), "file must be a path or None", InputTypeError)
    file = str(file or "")
    require(not (args_sentences and file), "give sentences either as arguments or with --file, not both")
    require(not os.path.isdir(file), f"{file} is a folder; give a text file with one sentence per line")
    require(args_sentences or file or callable(getattr(stdin, "read", None)), "stdin must be a stream", InputTypeError)
    if args_sentences:
        raw = args_sentences
    elif file:
        with open(file, encoding="utf-8") as handle:
            raw = handle.read().splitlines()
    else:
        raw = stdin.read().splitlines()
    kept = [s.strip() for s in raw if s.strip()]
    return kept, len(raw) - len(kept)


def _print(text: str, file=None) -> None:
    """``print`` that never fails on user text: what ``file`` cannot encode is backslash-escaped."""
    file = file or sys.stdout
    encoding = getattr(file, "encoding", None) or "utf-8"
    print(str(text).encode(encoding, "backslashreplace").decode(encoding), file=file)


def _fail(prog: str, message: str) -> int:
    _print(f"{prog}: error: {' '.join(str(message).split())}", sys.stderr)
    return 2


def main(argv: Optional[Sequence[str]] = None, prog: str = "course-translate") -> int:
    """Run the command with ``argv`` (default ``sys.argv[1:]``); returns the exit status.

    Never raises for bad input (an ``argv`` that is not a list of str included): one line on standard
    error and status 2 (argparse's usage errors: ``SystemExit(2)``); Ctrl-C gives 130, a closed pipe 0.
    """
    prog = prog if isinstance(prog, str) else "course-translate"
    if argv is not None and (isinstance(argv, (str, bytes)) or not isinstance(argv, (list, tuple))
                             or not all(isinstance(a, str) for a in argv)):
        return _fail(prog, f"argv must be a list of str arguments (e.g. ['model.zip', 'Ein Hund.']), got {argv!r:.60}")
    try:
        return _run(argv, prog)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. piped into head: no second error when Python flushes at exit
        sys.stdout = open(os.devnull, "w")
        return 0


def _run(argv: Optional[Sequence[str]], prog: str) -> int:
    args = build_parser(prog).parse_intermixed_args(argv)
    if args.greedy:
        if args.n_best != 1 or args.beam_size not in (None, 1):
            return _fail(prog, "--greedy keeps one hypothesis: drop --beam-size/--n-best or --greedy")
        args.beam_size, args.alpha, args.beta = 1, 0.0, 0.0
    args.beam_size = 5 if args.beam_size is None else args.beam_size
    problems = [message for bad, message in (
        (args.beam_size < 1, f"--beam-size must be at least 1, got {args.beam_size}"),
        (not 1 <= args.n_best <= max(args.beam_size, 1), f"--n-best must be between 1 and the beam size "
                                                          f"({args.beam_size}), got {args.n_best}"),
        (args.max_len is not None and args.max_len < 1, f"--max-len must be at least 1, got {args.max_len}")) if bad]
    if problems:
        return _fail(prog, "; ".join(problems))
    from .bundle import load_bundle  # torch is imported only now (fast --help)

    try:
        translator = load_bundle(args.bundle, device=args.device)
    except ValueError as err:  # BundleError, or a device this machine lacks
        return _fail(prog, str(err))
    if args.info:
        _print(translator.describe())
        if not args.sentences and not args.file:
            return 0
        _print("")
    try:
        if not args.sentences and not args.file and sys.stdin.isatty():
            _print("type sentences to translate, one per line; end with Ctrl-D", sys.stderr)
        sentences, skipped = read_sentences(args.sentences, args.file, sys.stdin)
    except (ValueError, OSError) as err:  # UnicodeDecodeError is a ValueError
        return _fail(prog, f"cannot read the sentences: {err}")
    if skipped:
        _print(f"{prog}: note: skipped {skipped} blank line{'s' if skipped > 1 else ''}", sys.stderr)
    if not sentences:
        return _fail(prog, "no sentence to translate (give sentences as arguments, with --file, or on standard input)")
    for start in range(0, len(sentences), 32):
        chunk = sentences[start:start + 32]
        try:
            results = translator.translate([_SURROGATES.sub("\ufffd", s) for s in chunk], beam_size=args.beam_size,
                                           alpha=args.alpha, beta=args.beta, n_best=args.n_best, max_len=args.max_len)
        except (ValueError, TypeError) as err:
            return _fail(prog, str(err))
        for number, (sentence, tr) in enumerate(zip(chunk, results), start=start + 1):
            _print_result(translator, number, sentence, tr, args)
    sys.stdout.flush()
    return 0


def _print_result(translator, number: int, sentence: str, tr, args) -> None:
    if args.n_best > 1:
        _print(f"[{number}] {sentence}")
        for rank, hyp in enumerate([tr] + list(tr.alternatives), start=1):
            score = "n/a" if hyp.score is None else f"{hyp.score:.3f}"
            _print(f"  {rank}. ({score}) {translator.detokenize(hyp.tokens)}")
    else:
        _print(translator.detokenize(tr.tokens))
    if args.show_attention:
        _print("(this model has no attention: nothing to show)" if tr.attn_weights is None
               else attention_table(tr.attn_weights, tr.src_tokens, tr.row_labels))
        _print("")


cli = main
"""Alias of :func:`main` (either works as the console-script entry point)."""


if __name__ == "__main__":
    sys.exit(main(prog="python -m course_lib.translate"))
