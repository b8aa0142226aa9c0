"""Loading pretrained backbones offline-first, with an error that says how to provide missing weights."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import timm
import torch.nn as nn


class PretrainedWeightsUnavailable(RuntimeError):
    """Pretrained weights were asked for but are neither a local directory nor in the local cache."""


def _offline() -> bool:
    return any(
        os.environ.get(k, "").lower() in {"1", "true", "yes"}
        for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def hf_from_pretrained(cls: Any, name: str, *, what: str, config_key: str, **kwargs: Any) -> Any:
    """`cls.from_pretrained(name)` for a local directory or a hub id, local cache first.

    Why: jobs run on machines without a hub; a clear message beats a stack of HTTP errors.
    """
    path = Path(name).expanduser()
    if path.is_dir():
        try:
            return cls.from_pretrained(str(path), **kwargs)
        except (OSError, ValueError) as err:
            raise PretrainedWeightsUnavailable(
                f"{what}: the local directory {path} is not a loadable transformers checkpoint ({err})"
            ) from err
    errors: list[str] = []
    try:
        return cls.from_pretrained(name, local_files_only=True, **kwargs)
    except (OSError, ValueError) as err:
        errors.append(str(err).splitlines()[0] if str(err) else type(err).__name__)
    if not _offline():
        try:
            return cls.from_pretrained(name, **kwargs)
        except Exception as err:  # noqa: BLE001 - any hub/network failure leads to the same advice
            errors.append(str(err).splitlines()[0] if str(err) else type(err).__name__)
    raise PretrainedWeightsUnavailable(
        f"{what}: pretrained weights for {name!r} are not available offline ({'; '.join(errors)}). "
        f"Provide them by (a) setting `{config_key}` to a local directory holding config.json, the weights and "
        f"the tokenizer (e.g. made with `save_pretrained` or `huggingface-cli download {name} --local-dir DIR` on "
        f"a machine with network access), or (b) filling the Hugging Face cache (HF_HOME) with {name!r} once "
        f"while online, or (c) setting `pretrained: false` for a randomly initialised model."
    )


def timm_create(name: str, *, pretrained: bool, **kwargs: Any) -> nn.Module:
    """`timm.create_model` with the same offline advice as `hf_from_pretrained`."""
    try:
        return timm.create_model(name, pretrained=pretrained, **kwargs)
    except TypeError:
        raise
    except Exception as err:  # noqa: BLE001 - download/cache failures come in many types
        if not pretrained:
            raise
        raise PretrainedWeightsUnavailable(
            f"image encoder: pretrained timm weights for {name!r} are not available offline ({err}). "
            f"Provide them by (a) adding `pretrained_cfg_overlay: {{file: /path/to/weights.safetensors}}` to "
            f"model.image_encoder.kwargs, or (b) filling the Hugging Face cache (HF_HOME) with the timm weights "
            f"once while online, or (c) setting model.image_encoder.pretrained: false."
        ) from err
