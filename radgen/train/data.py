"""Training-only data helpers: augmentation and class weights (sklearn).

FoldData / Split (radgen.data.folddata) and to_float (radgen.data.images) moved out so that prediction does not
import training; they are re-exported here for existing imports.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.utils.class_weight import compute_class_weight

from radgen.constants import CLASSES
from radgen.data.folddata import FoldData, Split
from radgen.data.images import to_float

__all__ = ["FoldData", "Split", "augment", "class_weights", "to_float"]


def augment(
    x: torch.Tensor,
    generator: torch.Generator,
    strength: float = 1.0,
    draws: int | None = None,
    rows: slice | None = None,
) -> torch.Tensor:
    """Light on-the-fly augmentation of float images [B,1,H,W]: rotation ±5°, scale ±5 %, shift ±3 %,
    brightness ±3 %, contrast ±5 % (stronger intensity jitter drowns faint opacities). No horizontal flip: it
    would contradict the reports' left/right wording. Parameters come from `generator` (CPU) so that a seed fixes
    them; the warp runs on x's device. `draws`/`rows` (DDP): parameters are drawn for the global batch of `draws`
    images and x gets those of `rows`, so every rank augments its share as one process would.

    Hand-written, not torchvision.transforms.v2 (0.29, measured on one thread, batch 16 at 64 px): v2's
    RandomAffine draws ONE parameter set per call and applies it to the whole batch (a batch of identical images
    comes out identical), so per-image parameters need a Python loop over the batch: 9.9 ms against 2.1 ms here;
    v2 draws from torch's global RNG (shared with dropout, so the separate, resumable augmentation stream would go);
    its affine pads with a constant (no `border`) and its brightness is multiplicative, not additive.
    """
    b = x.shape[0]

    def u(lo: float, hi: float) -> torch.Tensor:
        v = torch.rand(draws or b, generator=generator) * (hi - lo) + lo
        return (v if rows is None else v[rows]).to(x.device)

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
    """w_c = N / (C · n_c) from the training part's labels: sklearn's "balanced" weights.

    sklearn refuses a class absent from `labels`; such a class gets weight 0 here, and the present classes keep
    N / (C · n_c) with C = all classes (sklearn's value times C_present / C).
    """
    labels = np.asarray(labels, dtype=np.int64)
    present = np.unique(labels)
    w = np.zeros(n_classes, dtype=np.float64)
    if present.size == 0:
        return w
    balanced = compute_class_weight("balanced", classes=present, y=labels)
    w[present] = balanced if present.size == n_classes else balanced * present.size / n_classes
    return w
