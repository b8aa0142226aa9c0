"""RadGen models: a config, a processor, small composable modules and one builder for every variant."""

from radgen.models.builders import build_model
from radgen.models.configuration import RadGenConfig
from radgen.models.fusion import (
    FUSIONS,
    ClassifierHead,
    ConcatBlock,
    ConcatFusion,
    CrossAttentionBlock,
    CrossAttentionFusion,
    FusionOutput,
    Gate,
    masked_mean,
)
from radgen.models.image_encoder import ImageEncoder
from radgen.models.outputs import RadGenOutput
from radgen.models.persistence import CheckpointError, CorruptCheckpointError, IncompleteCheckpointError
from radgen.models.pretrained import PretrainedWeightsUnavailable
from radgen.models.processing import RadGenProcessor
from radgen.models.radgen_model import RadGenModel
from radgen.models.report_generator import ReportGenerator, Tagger
from radgen.models.text_encoder import TextEncoder
from radgen.models.tokenization import train_report_tokenizer, train_text_tokenizer

__all__ = [
    "FUSIONS",
    "CheckpointError",
    "ClassifierHead",
    "ConcatBlock",
    "ConcatFusion",
    "CorruptCheckpointError",
    "CrossAttentionBlock",
    "CrossAttentionFusion",
    "FusionOutput",
    "Gate",
    "ImageEncoder",
    "IncompleteCheckpointError",
    "PretrainedWeightsUnavailable",
    "RadGenConfig",
    "RadGenModel",
    "RadGenOutput",
    "RadGenProcessor",
    "ReportGenerator",
    "Tagger",
    "TextEncoder",
    "build_model",
    "masked_mean",
    "train_report_tokenizer",
    "train_text_tokenizer",
]
