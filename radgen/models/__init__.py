"""RadGen models: small composable modules and one builder for every variant."""

from radgen.models.fusion import ClassifierHead, ConcatFusion, CrossAttentionFusion, Gate, masked_mean
from radgen.models.image_encoder import ImageEncoder
from radgen.models.pretrained import PretrainedWeightsUnavailable
from radgen.models.radgen_model import (
    CheckpointError,
    CorruptCheckpointError,
    IncompleteCheckpointError,
    RadGenModel,
    build_model,
)
from radgen.models.report_generator import ReportGenerator
from radgen.models.text_encoder import TextEncoder
from radgen.models.tokenization import train_report_tokenizer, train_text_tokenizer

__all__ = [
    "CheckpointError",
    "ClassifierHead",
    "CorruptCheckpointError",
    "ConcatFusion",
    "CrossAttentionFusion",
    "Gate",
    "ImageEncoder",
    "IncompleteCheckpointError",
    "PretrainedWeightsUnavailable",
    "RadGenModel",
    "ReportGenerator",
    "TextEncoder",
    "build_model",
    "masked_mean",
    "train_report_tokenizer",
    "train_text_tokenizer",
]
