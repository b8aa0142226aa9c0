"""Optional patch-embedding stems for timm transformers, selectable from YAML by name.

`conv_stem`: a few stride-2 3x3 convolutions instead of one linear patchify convolution ("early convolutions
help transformers see better", Xiao et al., 2021). A randomly initialised Swin trained on a few hundred
images learns far faster with it; the paper setting (ImageNet-pretrained Swin) keeps timm's own PatchEmbed.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn as nn


class ConvStemPatchEmbed(nn.Module):
    """Drop-in for timm's PatchEmbed (same constructor keywords, NHWC or NCHW output, `grid_size`)."""

    convs_per_level = 1

    def __init__(
        self,
        img_size: int | tuple[int, int] = 224,
        patch_size: int | tuple[int, int] = 4,
        in_chans: int = 3,
        embed_dim: int = 96,
        norm_layer: Any = None,
        strict_img_size: bool = True,
        output_fmt: str = "NCHW",
        **_: Any,
    ) -> None:
        super().__init__()
        size = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
        patch = patch_size if isinstance(patch_size, int) else int(patch_size[0])
        n_down = int(round(math.log2(patch)))
        if 2**n_down != patch:
            raise ValueError(f"conv_stem needs a power-of-two patch_size, got {patch}")
        self.img_size = size
        self.patch_size = (patch, patch)
        self.grid_size = (size[0] // patch, size[1] // patch)
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.output_fmt = output_fmt
        self.flatten = False
        self.strict_img_size = strict_img_size
        # per halving: 3x3 convolution at the current resolution, BatchNorm, GELU, 2x2 max-pool (max-pooling keeps
        # small bright nodules that strided or averaging downsampling would blur away), then a 1x1 projection
        widths = [max(8, embed_dim >> (2 * (n_down - 1 - i))) for i in range(n_down)]  # e.g. 8, 24 for 24
        layers: list[nn.Module] = []
        c_in = in_chans
        for w in widths:
            for _j in range(self.convs_per_level):
                layers += [nn.Conv2d(c_in, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.GELU()]
                c_in = w
            layers.append(nn.MaxPool2d(2))
        layers.append(nn.Conv2d(c_in, embed_dim, 1))
        self.proj = nn.Sequential(*layers)
        self.norm = nn.Identity()  # no per-token LayerNorm: it would erase absolute brightness (opacity)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(x)
        if self.output_fmt == "NHWC":
            return self.norm(x.permute(0, 2, 3, 1))
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class DeepConvStemPatchEmbed(ConvStemPatchEmbed):
    """conv_stem with two 3x3 convolutions per resolution level."""

    convs_per_level = 2


EMBED_LAYERS: dict[str, type[nn.Module]] = {
    "conv_stem": ConvStemPatchEmbed,
    "deep_conv_stem": DeepConvStemPatchEmbed,
}


def resolve_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Replace a string `embed_layer` by its class (YAML cannot name Python classes)."""
    out = dict(kwargs)
    layer = out.get("embed_layer")
    if isinstance(layer, str):
        if layer not in EMBED_LAYERS:
            raise ValueError(
                f"model.image_encoder.kwargs.embed_layer: unknown {layer!r}; known: {sorted(EMBED_LAYERS)}"
            )
        out["embed_layer"] = EMBED_LAYERS[layer]
    return out
