"""Corpora, tokenisers, vocabularies and padded batches for the course.

One module per concern, in the order a lesson uses them; every public name is importable
from ``course_lib.data`` itself (``data.prepare_multi30k(...)``):

- :mod:`~course_lib.data.download`: streamed, SHA-256-verified, atomic downloads and the cache.
- :mod:`~course_lib.data.corpora`: Multi30k (Elliott et al. 2016, 2017), Anki/Tatoeba pairs, and
  generated tasks (dates; symbol sequences to copy, reverse or sort, :func:`make_sequence_task`).
- :mod:`~course_lib.data.text`: word tokenisers (spaCy *blank* rules, no model download),
  :class:`ReversedTokenizer` (Sutskever et al. 2014 sec. 3.3) and detokenisers.
- :mod:`~course_lib.data.subwords`: BPE (Sennrich et al. 2016; GNMT's wordpieces, Wu et al. 2016
  sec. 4.1) and :func:`merge_steps`.
- :mod:`~course_lib.data.vocab`: :class:`Vocab`; ``<pad>`` = 0, ``<unk>`` = 1, ``<sos>`` = 2, ``<eos>`` = 3.
- :mod:`~course_lib.data.batching`: :class:`TranslationDataset`, :class:`Batch` (batch-first,
  padded, ``src_lens``, ``src_pad_mask``), length buckets and :func:`make_loader`.
- :mod:`~course_lib.data.prepare`: :func:`prepare_multi30k` and :func:`prepare_pairs` return a
  :class:`TranslationData` (splits, vocabularies, tokenisers); :func:`token_stats`.

``COURSE_DATA_URL`` / ``COURSE_ANKI_URL`` point the downloads at a mirror (a URL or a local
folder with the same relative paths); ``COURSE_DATA_DIR`` is the cache (default
``$XDG_CACHE_HOME/course_lib`` or ``~/.cache/course_lib``). Nothing happens at import time;
spaCy and ``tokenizers`` are imported only when first needed.
"""

from __future__ import annotations

from course_lib.data.batching import Batch, BucketBatchSampler, TranslationDataset, collate_batch, make_loader
from course_lib.data.corpora import (ANKI_BASE_URL, ANKI_URL_VAR, MULTI30K_BASE_URL, MULTI30K_LANGS, MULTI30K_SPLITS,
                                     SEQUENCE_TASKS, Pair, anki_file, load_anki_pairs, load_multi30k, make_date_corpus,
                                     make_sequence_task, multi30k_file, read_tab_pairs, split_pairs)
from course_lib.data.download import (ChecksumError, DataDownloadError, data_cache_dir, download_file, read_checksums,
                                      sha256_file)
from course_lib.data.prepare import TOKENIZER_KINDS, TranslationData, prepare_multi30k, prepare_pairs, token_stats
from course_lib.data.subwords import SubwordTokenizer, merge_steps, subword_cache_path, train_subword_tokenizer
from course_lib.data.text import (SPACE_TOKEN, CharTokenizer, ReversedTokenizer, Tokenizer, char_tokenize, detokenize,
                                  detokenize_words)
from course_lib.data.vocab import EOS, PAD, SOS, SPECIALS, UNK, Vocab, VocabIdError

__all__ = [
    # download and checksums
    "DataDownloadError", "ChecksumError", "data_cache_dir", "download_file", "read_checksums", "sha256_file",
    # corpora: Multi30k, Anki / Tatoeba, generated tasks
    "Pair", "MULTI30K_BASE_URL", "MULTI30K_SPLITS", "MULTI30K_LANGS", "multi30k_file", "load_multi30k",
    "ANKI_BASE_URL", "ANKI_URL_VAR", "anki_file", "load_anki_pairs", "read_tab_pairs", "split_pairs",
    "make_date_corpus", "SEQUENCE_TASKS", "make_sequence_task",
    # tokenisers
    "char_tokenize", "CharTokenizer", "SPACE_TOKEN", "Tokenizer", "ReversedTokenizer", "detokenize_words",
    "detokenize", "SubwordTokenizer", "train_subword_tokenizer", "subword_cache_path", "merge_steps",
    # vocabulary
    "PAD", "UNK", "SOS", "EOS", "SPECIALS", "Vocab", "VocabIdError",
    # batches
    "Batch", "TranslationDataset", "collate_batch", "BucketBatchSampler", "make_loader",
    # builders
    "TranslationData", "TOKENIZER_KINDS", "prepare_multi30k", "prepare_pairs", "token_stats",
]
