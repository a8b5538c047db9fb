"""Word- and character-level tokenisers, and the heuristic detokeniser for word tokens.

- :class:`Tokenizer`: spaCy's rule-based *blank* tokeniser for one language (no model
  download).
- :data:`char_tokenize`: characters, with spaces shown as :data:`SPACE_TOKEN` (the toy
  date corpus).
- :func:`detokenize_words`: join word tokens back into text (heuristic; see there), used by
  ``Tokenizer.detokenize`` so that BLEU can be computed on detokenised text against raw
  references (sacreBLEU's standard; Post 2018, "A Call for Clarity in Reporting BLEU
  Scores").
- :func:`detokenize`: ``tokens -> str`` for any tokeniser (its own ``detokenize`` method if it
  has one, else :func:`detokenize_words`).

This module is named ``text`` rather than ``tokenizers`` so that it can never be mistaken
for the Hugging Face ``tokenizers`` package (used by :mod:`course_lib.data.subwords`).
"""

from __future__ import annotations

import functools
import re
from typing import Any, Callable, Iterable, Sequence

from course_lib.data._checks import check_texts, check_tokens

__all__ = ["SPACE_TOKEN", "CharTokenizer", "char_tokenize", "Tokenizer", "detokenize_words", "detokenize"]

SPACE_TOKEN = "▁"
"""The visible token :data:`char_tokenize` uses for a space (U+2581, as in SentencePiece)."""


# ---------------------------------------------------------------------------------------
# Detokenising word tokens
# ---------------------------------------------------------------------------------------

_CLOSING = re.compile(r"^(?:[.,!?;:%)\]}…»]+|\.\.\.)$")  # attach to the previous token
_OPENING = {"(", "[", "{", "«", "¿", "¡"}  # attach to the next token
_JOINERS = {"-", "/", "–"}  # "t - shirt" -> "t-shirt"
_QUOTES = {'"', "“", "”", "„", "'"}  # paired: opening attaches right, closing attaches left
_CLITICS = re.compile(r"^(?:['’][a-z]{1,2}|n['’]t|-[^\W\d_]+)$", re.IGNORECASE)  # 's 're 'll n't; French -ce -il
_ELISION = re.compile(r"^[^\W\d_]+['’]$")  # French l' d' qu' jusqu' quelqu'


def detokenize_words(tokens: Sequence[str]) -> str:
    """Join word tokens into text, undoing the spaces a word tokeniser inserted (heuristic).

    Rules, applied left to right: no space before closing punctuation (``. , ! ? ; : % ) ]``)
    or an English clitic (``'s``, ``n't``, ``'re`` ...); no space after an opening bracket or a
    French elision (``l'``, ``qu'``); none before a French hyphenated suffix (``-ce``,
    ``-il``); no space on either side of ``-``, ``/`` and ``–``
    (``t - shirt`` -> ``t-shirt``); straight and curly double quotes (and a lone ``'``)
    alternate between opening (attached to the next token) and closing (attached to the
    previous one). This is a **heuristic**: a spaced dash (``a - b``) becomes ``a-b`` and the
    original spacing cannot always be known; on Multi30k it restores most reference
    sentences exactly (see the tests). Case is not restored: lower-cased tokens give
    lower-cased text.

    Args:
        tokens: one sentence's tokens, e.g. ``["a", "man", "'s", "t", "-", "shirt", "."]``.

    Returns:
        The text, e.g. ``"a man's t-shirt."``; ``""`` for no tokens.

    Raises:
        TypeError: ``tokens`` is a str (pass a list of tokens) or holds a non-str.
    """
    tokens = [t for t in check_tokens(tokens, "detokenize_words") if t.strip()]
    out: list[str] = []
    open_quote = False
    attach_next = True  # no space before the first token
    for tok in tokens:
        space = not attach_next
        attach_next = False
        if tok in _QUOTES:
            if open_quote:  # closing quote: attach to the previous token
                space = False
            else:
                attach_next = True
            open_quote = not open_quote
        elif _CLOSING.match(tok) or _CLITICS.match(tok):
            space = False
        elif tok in _JOINERS:
            space = False
            attach_next = True
        elif tok in _OPENING or _ELISION.match(tok):
            attach_next = True
        out.append((" " if space and out else "") + tok)
    return "".join(out)


def detokenize(tokenizer: Any, tokens: Sequence[str]) -> str:
    """``tokens -> text`` with ``tokenizer``'s own ``detokenize`` if it has one, else :func:`detokenize_words`.

    Works for :class:`Tokenizer`, :data:`char_tokenize`,
    :class:`~course_lib.data.SubwordTokenizer`, and any plain callable used as a tokeniser.

    Raises:
        TypeError: ``tokens`` is a str or holds a non-str; ``tokenizer`` is neither callable
            nor has a ``detokenize`` method (e.g. ``None`` or a language code).
    """
    method = getattr(tokenizer, "detokenize", None)
    if callable(method):
        return method(tokens)
    if not callable(tokenizer):
        raise TypeError(
            f"detokenize expects the tokeniser the tokens came from (e.g. data.Tokenizer('en') or "
            f"data.char_tokenize), got {type(tokenizer).__name__} {tokenizer!r:.40}; "
            "use detokenize_words(tokens) to join words without one"
        )
    return detokenize_words(tokens)


# ---------------------------------------------------------------------------------------
# Characters (toy corpus)
# ---------------------------------------------------------------------------------------


class CharTokenizer:
    """Split text into characters, spaces shown as :data:`SPACE_TOKEN` (``"▁"``).

    ``char_tokenize("3 may")`` -> ``["3", "▁", "m", "a", "y"]``; :meth:`detokenize` gives the
    text back exactly. Use the ready-made instance :data:`char_tokenize`.
    """

    lang = "char"

    def __call__(self, text: str) -> list[str]:
        """Characters of ``text``.

        Raises:
            TypeError: ``text`` is not a str.
        """
        if not isinstance(text, str):
            raise TypeError(f"char_tokenize expects a str, got {type(text).__name__}; tokenise one sentence at a time")
        return [SPACE_TOKEN if c == " " else c for c in text]

    def tokenize_many(self, texts: Iterable[str]) -> list[list[str]]:
        """Tokenise many sentences. Raises TypeError for a bare str or a non-str item."""
        return [self(t) for t in check_texts(texts, "char_tokenize.tokenize_many")]

    def detokenize(self, tokens: Sequence[str]) -> str:
        """Exact inverse of :meth:`__call__`. Raises TypeError for a bare str or a non-str token."""
        return "".join(check_tokens(tokens, "char_tokenize.detokenize")).replace(SPACE_TOKEN, " ")

    def __repr__(self) -> str:
        return "char_tokenize"


char_tokenize = CharTokenizer()
"""Character tokeniser (a :class:`CharTokenizer`): ``char_tokenize("3 may") == ["3", "▁", "m", "a", "y"]``."""


# ---------------------------------------------------------------------------------------
# spaCy blank tokenisers
# ---------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _blank_nlp(lang: str):
    """spaCy's blank pipeline for ``lang`` (rule-based tokeniser only), loaded once."""
    import spacy

    try:
        return spacy.blank(lang)
    except (ImportError, KeyError, ValueError) as err:
        raise ValueError(
            f"spaCy has no blank tokenizer for language {lang!r}. Use an ISO 639-1 code that "
            "spaCy ships a blank language for, e.g. 'de', 'en', 'fr', 'mr', or 'xx' for a "
            "language-neutral one (list: https://spacy.io/usage/models#languages)."
        ) from err


class Tokenizer:
    """Rule-based word tokeniser for one language: spaCy's ``spacy.blank(lang)``.

    No model download is needed; each language gets its own rules (German keeps ``"im"``
    as one token, the English rules would split it as if it were ``"I'm"``). Whitespace
    tokens are dropped; with ``lower=True`` tokens are lower-cased *after* tokenising, so
    case-sensitive exceptions still apply. :meth:`detokenize` joins tokens back into text
    (heuristic, see :func:`detokenize_words`).

    Args:
        lang: a spaCy language code (``"de"``, ``"en"``, ``"fr"``, ``"mr"``, ...).
        lower: lower-case every token (default ``True``).

    The spaCy pipeline is loaded on construction (not at import) and cached per language.
    A :class:`Tokenizer` pickles cheaply (only ``lang`` and ``lower``).

    Raises:
        TypeError: ``lang`` is not a str or ``lower`` not a bool.
        ValueError: spaCy has no blank language for ``lang``.
    """

    def __init__(self, lang: str, lower: bool = True):
        if not isinstance(lang, str):
            raise TypeError(f"lang must be a language code str such as 'de', got {type(lang).__name__}")
        if not isinstance(lower, bool):
            raise TypeError(f"lower must be True or False, got {lower!r}")
        self.lang = lang
        self.lower = lower
        _blank_nlp(lang)  # validate now, with a clear error

    @property
    def nlp(self):
        """The cached spaCy ``Language`` object behind this tokeniser."""
        return _blank_nlp(self.lang)

    def _words(self, doc) -> list[str]:
        return [(t.lower_ if self.lower else t.text) for t in doc if not t.is_space]

    def __call__(self, text: str) -> list[str]:
        """Tokenise one sentence into a list of token strings.

        Raises:
            TypeError: ``text`` is not a str (use :meth:`tokenize_many` for a list).
        """
        if not isinstance(text, str):
            raise TypeError(f"Tokenizer expects a str, got {type(text).__name__}; use tokenize_many for a list")
        return self._words(self.nlp.tokenizer(text))

    def tokenize_many(self, texts: Iterable[str]) -> list[list[str]]:
        """Tokenise many sentences (streams them through ``nlp.tokenizer.pipe``; fast).

        Raises:
            TypeError: ``texts`` is a bare str (call the tokenizer on it, or wrap it in a
                list) or holds a non-str.
        """
        texts = check_texts(texts, "Tokenizer.tokenize_many")
        return [self._words(doc) for doc in self.nlp.tokenizer.pipe(texts, batch_size=1000)]

    def detokenize(self, tokens: Sequence[str]) -> str:
        """Join tokens back into text; heuristic, see :func:`detokenize_words`.

        Raises:
            TypeError: ``tokens`` is a str or holds a non-str.
        """
        return detokenize_words(tokens)

    def __repr__(self) -> str:
        return f"Tokenizer(lang={self.lang!r}, lower={self.lower})"

    def __getstate__(self):
        return {"lang": self.lang, "lower": self.lower}

    def __setstate__(self, state):
        self.lang = state["lang"]
        self.lower = state["lower"]


def tokenize_all(tokenizer: Callable[[str], list[str]], texts: Sequence[str]) -> list[list[str]]:
    """Tokenise ``texts`` with ``tokenizer`` (its ``tokenize_many`` when present). Private helper.

    Raises:
        TypeError: ``texts`` is not a list of str, or the tokenizer returns something other
            than a list of str tokens for a sentence (e.g. the str itself).
    """
    texts = check_texts(texts, "tokenize")
    many = getattr(tokenizer, "tokenize_many", None)
    out = many(texts) if callable(many) else [tokenizer(t) for t in texts]
    result = []
    for i, tokens in enumerate(out):
        # a tokeniser that returns a str would otherwise be read character by character
        if isinstance(tokens, (str, bytes)) or not isinstance(tokens, Iterable) or isinstance(tokens, (dict, set)):
            text = texts[i] if i < len(texts) else ""
            raise TypeError(
                f"the tokenizer must return a list of str tokens, but for sentence {i} ({text!r:.40}) it returned "
                f"a {type(tokens).__name__}; use e.g. data.Tokenizer('en') or data.char_tokenize"
            )
        result.append(check_tokens(tokens, f"the tokenizer's output (sentence {i})"))
    return result
