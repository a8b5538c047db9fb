"""Search for every model of the course (only ``encode``/``init_state``/``decode_step`` are used): greedy
decoding (:mod:`.greedy`), beam search (:mod:`.beam`; what it records for the explorer: :mod:`.beam_record`), sentences in and translations out (:mod:`.translate`),
the decoder stepper's trace (:mod:`.trace`). Attention matrices have a row per generated token **plus one
for the step that produced** ``<eos>`` (``Translation.row_labels``), a column per real source position."""

from .beam import BeamSearchOutput, Hypothesis, beam_search, coverage_penalty, length_penalty
from .beam_record import BeamCandidate, BeamStep
from .greedy import GreedyOutput, default_max_len, greedy_decode
from .trace import StepTrace, decode_trace
from .translate import Translation, _encode_sources, translate, translate_dataset  # noqa: F401 (bench/train_speed.py)

__all__ = ["GreedyOutput", "greedy_decode", "default_max_len", "Translation", "translate", "translate_dataset",
           "StepTrace", "decode_trace", "Hypothesis", "BeamStep", "BeamCandidate", "BeamSearchOutput", "beam_search",
           "length_penalty", "coverage_penalty"]
