"""Training-only data helpers: augmentation and class weights.

FoldData / Split (radgen.data.folddata) and to_float (radgen.data.images) moved out so that prediction does not
import training; they are re-exported here for existing imports.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from radgen.constants import CLASSES
from radgen.data.folddata import FoldData, Split
from radgen.data.images import to_float

__all__ = ["FoldData", "Split", "augment", "class_weights", "to_float"]


def augment(x: torch.Tensor, generator: torch.Generator, strength: float = 1.0) -> torch.Tensor:
    """Light on-the-fly augmentation of float images [B,1,H,W]: rotation ±5°, scale ±5 %, shift ±3 %,
    brightness ±3 %, contrast ±5 % (stronger intensity jitter drowns faint opacities). No horizontal flip: it would contradict the reports' left/right wording.
    Parameters come from `generator` (CPU) so that a seed fixes them; the warp runs on x's device."""
    b = x.shape[0]

    def u(lo: float, hi: float) -> torch.Tensor:
        return (torch.rand(b, generator=generator) * (hi - lo) + lo).to(x.device)

    angle = u(-5, 5) * strength * math.pi / 180
    scale = 1 + u(-0.05, 0.05) * strength
    tx, ty = u(-0.03, 0.03) * strength * 2, u(-0.03, 0.03) * strength * 2
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    brightness = u(-0.03, 0.03).view(b, 1, 1, 1) * strength
    contrast = (1 + u(-0.05, 0.05) * strength).view(b, 1, 1, 1)
    mean = x.mean(dim=(2, 3), keepdim=True)
    return ((x - mean) * contrast + mean + brightness).clamp_(0.0, 1.0)


def class_weights(labels: np.ndarray, n_classes: int = len(CLASSES)) -> np.ndarray:
    """w_c = N / (C · n_c) from the training part's labels (a class absent from it gets weight 0)."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    n = counts.sum()
    with np.errstate(divide="ignore"):
        w = np.where(counts > 0, n / (n_classes * np.maximum(counts, 1)), 0.0)
    return w
