"""course_lib: the shared PyTorch library behind the seq2seq-with-attention course.

Modules (import them explicitly; nothing happens at import time):

- :mod:`course_lib.profiles`  -- the ``COURSE_PROFILE`` run profiles (ci / cpu / gpu).
- :mod:`course_lib.utils`     -- seeding, device choice, ``check_shape``.
- :mod:`course_lib.data`      -- corpora (Multi30k, Anki/Tatoeba, a toy corpus), tokenisers,
  ``Vocab``, padded batches and length bucketing.
- :mod:`course_lib.attention` -- every score function behind one interface.
- :mod:`course_lib.models`    -- encoders, decoders and the ``Seq2Seq`` wrapper.
- :mod:`course_lib.training`  -- the GPU-aware training loop with checkpoints.
- :mod:`course_lib.decoding`  -- batched greedy decoding and beam search.
- :mod:`course_lib.metrics`   -- BLEU / chrF (sacrebleu), perplexity, BLEU by length.
- :mod:`course_lib.viz`, :mod:`course_lib.widgets` -- figures and ipywidgets layers.

Shape legend used in every docstring: ``B`` batch, ``S`` source length, ``T`` target
length, ``H`` hidden size, ``E`` embedding size, ``V`` vocabulary size.
"""

__version__ = "0.1.0"
