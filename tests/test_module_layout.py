"""Issue 14's package layout keeps every old import path: the trainer's config and record, and the
beam explorer's record, moved to their own modules."""

from __future__ import annotations

import importlib

import pytest

from course_lib import decoding, training


def test_the_old_import_paths_give_the_same_objects():
    trainer, beam = importlib.import_module("course_lib.training.trainer"), importlib.import_module("course_lib.decoding.beam")
    assert trainer.TrainConfig is training.TrainConfig is importlib.import_module("course_lib.training.config").TrainConfig
    assert trainer.History is training.History
    assert beam.BeamStep is decoding.BeamStep and beam.BeamCandidate is decoding.BeamCandidate
    from course_lib.decoding.beam import BeamStep  # noqa: F401 (the from-import form too)


def test_an_unknown_name_of_the_beam_module_is_an_attribute_error():
    beam = importlib.import_module("course_lib.decoding.beam")
    with pytest.raises(AttributeError, match="NoSuchThing"):
        beam.NoSuchThing  # noqa: B018
