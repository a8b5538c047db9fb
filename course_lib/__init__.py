"""course_lib: the shared PyTorch library behind the seq2seq-with-attention course.

Layers, bottom up (import modules explicitly; nothing happens at import time):

- ground floor: :mod:`~course_lib.checks` (input checks, one error family), :mod:`~course_lib.utils`
  (seeding, devices, ``check_shape``), :mod:`~course_lib.profiles` (``COURSE_PROFILE``: ci / cpu / gpu);
- the spine: :mod:`~course_lib.data`, :mod:`~course_lib.attention`, :mod:`~course_lib.models`,
  :mod:`~course_lib.training`, :mod:`~course_lib.decoding`, :mod:`~course_lib.metrics`;
- the UI: :mod:`~course_lib.viz`, :mod:`~course_lib.widgets` and their helpers;
- the tools: :mod:`~course_lib.bundle` (a model in one file), :mod:`~course_lib.translate` (the
  ``course-translate`` command), :mod:`~course_lib.runner` (the job that runs every lesson).

Shapes in every docstring: ``B`` batch, ``S`` source length, ``T`` target length, ``H`` hidden
size, ``E`` embedding size, ``V`` vocabulary size.
"""

__version__ = "0.1.0"
