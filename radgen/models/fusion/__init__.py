"""Fusion: the registry of strategies (strategies.py) and their building blocks (blocks.py)."""

from radgen.models.fusion.blocks import ClassifierHead, ConcatBlock, CrossAttentionBlock, Gate, masked_mean
from radgen.models.fusion.strategies import (
    FUSIONS,
    ConcatFusion,
    CrossAttentionFusion,
    EarlyFusion,
    Fusion,
    FusionOutput,
    GatedFusion,
    LateFusion,
    SingleBranch,
    build_fusion,
)

__all__ = [
    "FUSIONS",
    "ClassifierHead",
    "ConcatBlock",
    "ConcatFusion",
    "CrossAttentionBlock",
    "CrossAttentionFusion",
    "EarlyFusion",
    "Fusion",
    "FusionOutput",
    "Gate",
    "GatedFusion",
    "LateFusion",
    "SingleBranch",
    "build_fusion",
    "masked_mean",
]
