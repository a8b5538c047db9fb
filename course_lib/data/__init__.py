"""Corpora, tokenisers, vocabularies and padded batches for the course.

A package with one module per concern, in the order a lesson uses them; every public name
is importable from ``course_lib.data`` itself (``from course_lib import data``;
``data.prepare_multi30k(...)``):

- :mod:`~course_lib.data.download`: :func:`download_file` (streamed, SHA-256-verified,
  atomic), :func:`data_cache_dir`, :func:`read_checksums` (the lists shipped in
  ``course_lib/checksums/``), :class:`DataDownloadError`, :class:`ChecksumError`.
- :mod:`~course_lib.data.corpora`: **Multi30k** (Elliott et al. 2016, "Multi30K:
  Multilingual English-German Image Descriptions"; Elliott et al. 2017 for French and the
  2017 test sets; :func:`load_multi30k`), **Anki / Tatoeba** tab-separated pairs
  (:func:`load_anki_pairs`, :func:`anki_file`, :func:`read_tab_pairs`, :func:`split_pairs`), and a **toy corpus** of dates to
  translate into ISO ``YYYY-MM-DD`` (:func:`make_date_corpus`).
- :mod:`~course_lib.data.text`: word tokenisers (:class:`Tokenizer`, spaCy *blank*
  rules, no model download), :data:`char_tokenize`, and :func:`detokenize_words` /
  :func:`detokenize` (tokens back to text for BLEU on raw references).
- :mod:`~course_lib.data.subwords`: BPE subword units (Sennrich et al. 2016; one joint
  model as GNMT's wordpieces, Wu et al. 2016 sec. 4.1): :func:`train_subword_tokenizer`,
  :class:`SubwordTokenizer`, cached beside the corpus;
  :func:`merge_steps` (a word's segmentation after each merge).
- :mod:`~course_lib.data.vocab`: :class:`Vocab` with the special tokens ``<pad>`` = 0,
  ``<unk>`` = 1, ``<sos>`` = 2, ``<eos>`` = 3 (:data:`PAD`, :data:`UNK`, :data:`SOS`,
  :data:`EOS`).
- :mod:`~course_lib.data.batching`: :class:`TranslationDataset`, :func:`collate_batch` ->
  :class:`Batch` (batch-first, padded, with ``src_lens`` and ``src_pad_mask``), length
  bucketing with :class:`BucketBatchSampler`, and :func:`make_loader`.
- :mod:`~course_lib.data.prepare`: :func:`prepare_multi30k` (words or subwords) and
  :func:`prepare_pairs` return a :class:`TranslationData` with the three splits, both
  vocabularies and both tokenisers; :func:`token_stats` (``<unk>`` rate, vocabulary size,
  mean length).

Environment variables:

- ``COURSE_DATA_URL``: base URL (or local folder) to download Multi30k from instead of
  GitHub, e.g. ``file:///path/to/mirror/multi30k/``; it must hold the same relative paths
  (``data/task1/raw/train.de.gz`` ...).
- ``COURSE_ANKI_URL``: base URL (or local folder) of a mirror holding the *extracted* Anki
  pair files (``mar.txt`` ...) instead of manythings.org's zips, e.g.
  ``file:///path/to/mirror/anki/``.
- ``COURSE_DATA_DIR``: where downloaded files and subword models are cached (default
  ``$XDG_CACHE_HOME/course_lib`` or ``~/.cache/course_lib``).

Nothing happens at import time: no downloads; spaCy is imported only when a
:class:`Tokenizer` is created, Hugging Face ``tokenizers`` only when a subword model is
trained or loaded.

Shape legend: ``B`` batch, ``S`` source length, ``T`` target length (in tokens).
"""

from __future__ import annotations

from course_lib.data.batching import (
    Batch,
    BucketBatchSampler,
    TranslationDataset,
    collate_batch,
    make_loader,
)
from course_lib.data.corpora import (
    ANKI_BASE_URL,
    ANKI_URL_VAR,
    MULTI30K_BASE_URL,
    MULTI30K_LANGS,
    MULTI30K_SPLITS,
    Pair,
    anki_file,
    load_anki_pairs,
    load_multi30k,
    make_date_corpus,
    multi30k_file,
    read_tab_pairs,
    split_pairs,
)
from course_lib.data.download import (
    ChecksumError,
    DataDownloadError,
    data_cache_dir,
    download_file,
    read_checksums,
    sha256_file,
)
from course_lib.data.prepare import (
    TOKENIZER_KINDS,
    TranslationData,
    prepare_multi30k,
    prepare_pairs,
    token_stats,
)
from course_lib.data.subwords import (
    SubwordTokenizer,
    merge_steps,
    subword_cache_path,
    train_subword_tokenizer,
)
from course_lib.data.text import (
    SPACE_TOKEN,
    CharTokenizer,
    Tokenizer,
    char_tokenize,
    detokenize,
    detokenize_words,
)
from course_lib.data.vocab import EOS, PAD, SOS, SPECIALS, UNK, Vocab, VocabIdError

__all__ = [
    # download and checksums
    "DataDownloadError",
    "ChecksumError",
    "data_cache_dir",
    "download_file",
    "read_checksums",
    "sha256_file",
    # Multi30k
    "Pair",
    "MULTI30K_BASE_URL",
    "MULTI30K_SPLITS",
    "MULTI30K_LANGS",
    "multi30k_file",
    "load_multi30k",
    # Anki / Tatoeba
    "ANKI_BASE_URL",
    "ANKI_URL_VAR",
    "anki_file",
    "load_anki_pairs",
    "read_tab_pairs",
    "split_pairs",
    # toy corpus
    "make_date_corpus",
    "char_tokenize",
    "CharTokenizer",
    "SPACE_TOKEN",
    # tokenisers
    "Tokenizer",
    "detokenize_words",
    "detokenize",
    "SubwordTokenizer",
    "train_subword_tokenizer",
    "subword_cache_path",
    "merge_steps",
    # vocabulary
    "PAD",
    "UNK",
    "SOS",
    "EOS",
    "SPECIALS",
    "Vocab",
    "VocabIdError",
    # batches
    "Batch",
    "TranslationDataset",
    "collate_batch",
    "BucketBatchSampler",
    "make_loader",
    # builders
    "TranslationData",
    "TOKENIZER_KINDS",
    "prepare_multi30k",
    "prepare_pairs",
    "token_stats",
]
