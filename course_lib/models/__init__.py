"""Encoders, decoders and the :class:`Seq2Seq` interface (see :mod:`course_lib.models.base`)."""

from .base import Seq2Seq, Seq2SeqOutput, StepOutput, lengths_to_pad_mask, select_batch
from .encoders import RNNEncoder
from .vanilla import VanillaConfig, VanillaSeq2Seq
from .bahdanau import BahdanauConfig, BahdanauSeq2Seq
from .luong import LocalPAttention, LuongConfig, LuongSeq2Seq
from .gnmt import GNMTConfig, GNMTSeq2Seq

__all__ = [
    "Seq2Seq", "Seq2SeqOutput", "StepOutput", "select_batch", "lengths_to_pad_mask",
    "RNNEncoder", "VanillaConfig", "VanillaSeq2Seq",
    "BahdanauConfig", "BahdanauSeq2Seq", "LuongConfig", "LuongSeq2Seq", "LocalPAttention",
    "GNMTConfig", "GNMTSeq2Seq",
]
