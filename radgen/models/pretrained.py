"""Loading pretrained backbones offline-first, with an error that says how to provide missing weights.

In the workflow, the local rule `fetch_pretrained` (radgen.pretrained_fetch) materialises every pretrained model
a config names before any GPU job and writes a manifest {component key -> local path}; training jobs then load
only from those paths (`resolve_sources`), never from a hub.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import timm
import torch.nn as nn
from transformers import logging as hf_logging

from radgen.pretrained_fetch import (  # torch-free, so that the Snakefile can list components cheaply
    TIMM_WEIGHTS,
    PretrainedWeightsUnavailable,
    pretrained_components,
)


# --------------------------------------------------------------------------- transformers logging
class _QuietLoadReports(logging.Filter):
    """Drop transformers load reports that list only UNEXPECTED keys (checkpoint heads the model does not use,
    e.g. BERT's pre-training head); every report with MISSING (newly initialised), MISMATCHED or CONVERSION rows
    stays visible: it says a checkpoint did not (fully) load."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "LOAD REPORT" not in message:
            return True
        return any(word in message for word in ("MISSING", "MISMATCH", "CONVERSION"))


def configure_transformers_logging() -> None:
    """Keep transformers' warnings (verbosity as the user set it, WARNING by default); silence only the noise:
    download progress bars and load reports without a missing or mismatched weight."""
    hf_logging.disable_progress_bar()
    for handler in hf_logging.get_logger().handlers:  # the library root logger ("transformers")
        if not any(isinstance(f, _QuietLoadReports) for f in handler.filters):
            handler.addFilter(_QuietLoadReports())


# --------------------------------------------------------------------------- the manifest
def load_manifest(path: str | Path) -> dict[str, str]:
    """{component key -> local path} written by fetch_pretrained."""
    path = Path(path)
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise PretrainedWeightsUnavailable(
            f"cannot read the pretrained-model manifest {path} ({err}); run `snakemake fetch_pretrained`"
        ) from None
    if not isinstance(manifest, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in manifest.items()
    ):
        raise PretrainedWeightsUnavailable(f"{path} is not a manifest of component key -> local path")
    return manifest


def resolve_sources(
    model_cfg: Mapping[str, Any], manifest: Mapping[str, str], where: str = "the manifest"
) -> dict[str, str]:
    """{part -> local path} for every pretrained part of `model_cfg`: the only places training loads from."""
    sources = {}
    for comp in pretrained_components(model_cfg):
        path = manifest.get(comp.key)
        if path is None:
            raise PretrainedWeightsUnavailable(
                f"{comp.part}: pretrained {comp.name!r} is not in {where} (keys: {', '.join(manifest) or 'none'}); "
                "rerun `snakemake fetch_pretrained` with this config"
            )
        if not Path(path).exists():
            raise PretrainedWeightsUnavailable(
                f"{comp.part}: {path}, materialised for {comp.name!r} by fetch_pretrained, no longer exists; "
                f"delete {where} and rerun `snakemake fetch_pretrained`"
            )
        sources[comp.part] = path
    return sources


def timm_weights_file(path: str | Path) -> str:
    """The weights file of a materialised timm model (a directory) or a file named directly."""
    path = Path(path)
    return str(path / TIMM_WEIGHTS if path.is_dir() else path)


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
        f"the tokenizer (e.g. made with `save_pretrained` or `hf download {name} --local-dir DIR` on "
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
            f"Provide them by (a) running `snakemake fetch_pretrained` where the hub is reachable (or with the "
            f"Hugging Face cache filled), or adding `pretrained_cfg_overlay: {{file: /path/to/weights.safetensors}}` to "
            f"model.image_encoder.kwargs, or (b) filling the Hugging Face cache (HF_HOME) with the timm weights "
            f"once while online, or (c) setting model.image_encoder.pretrained: false."
        ) from err
