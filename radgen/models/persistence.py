"""A model directory: config.json + model.safetensors + the processor's tokenizers; JSON and safetensors only.

Directories written before the composition (format_version 1: fusion, gate, head and tagger at the top of the
model) still load: their tensors are renamed to the composed layout (V1_RENAMES) before a strict load.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors.torch import load_file, save_model

from radgen.models.configuration import FORMAT, RadGenConfig
from radgen.models.processing import TOKENIZER_DIRS, RadGenProcessor
from radgen.models.tokenization import load_tokenizer
from radgen.variants import generates_reports, reads_text

if TYPE_CHECKING:
    from radgen.models.radgen_model import RadGenModel

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
# buffers a checkpoint written before they existed may lack; they load as their initial value (zeros = the old rule)
OPTIONAL_BUFFERS = frozenset({"prior_logit_adjust"})
# format 1 -> 2: (old prefix, new prefix), first match wins; exact names end without a dot
V1_RENAMES = (
    ("fusion.", "fusion.block."),
    ("gate.", "fusion.gate."),
    ("head.", "fusion.head."),
    ("text_head.", "fusion.text_head."),
    ("tagger.", "report_generator.tagger.linear."),
    ("tag_logit_adjust", "report_generator.tagger.logit_adjust"),
)


class CheckpointError(Exception):
    """A checkpoint directory that cannot be loaded; the message says which file and why."""


class IncompleteCheckpointError(CheckpointError, FileNotFoundError):
    """A checkpoint directory lacks files; the message lists every missing one."""


class CorruptCheckpointError(CheckpointError, ValueError):
    """A checkpoint file exists but cannot be read (truncated weights, invalid JSON, wrong tensors)."""


def save_directory(model: RadGenModel, directory: str | Path) -> None:
    """config.json + model.safetensors + tokenizer dirs."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    (d / CONFIG_FILE).write_text(json.dumps(model.config.to_dict(model.hf_configs()), indent=2, default=str))
    save_model(model, str(d / WEIGHTS_FILE), metadata={"format": "pt"})
    model.processor.save_pretrained(d)


def required_files(directory: str | Path) -> list[str]:
    """Files a complete checkpoint must hold (tokenizer dirs depend on its config)."""
    d = Path(directory)
    files = [CONFIG_FILE, WEIGHTS_FILE]
    try:
        config = RadGenConfig.from_dict(json.loads((d / CONFIG_FILE).read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return files
    return files + RadGenProcessor.files_for(generates_reports(config.model), reads_text(config.model))


def check_checkpoint(directory: str | Path) -> dict[str, Any]:
    """Return the parsed config.json; raise IncompleteCheckpointError listing every missing file, or
    CorruptCheckpointError for a config.json that is not a RadGen checkpoint config."""
    d = Path(directory)
    if not d.is_dir():
        raise IncompleteCheckpointError(f"checkpoint directory {d} does not exist")
    missing = [f for f in required_files(d) if not (d / f).is_file()]
    if missing:
        raise IncompleteCheckpointError(
            f"checkpoint directory {d} is incomplete; missing: {', '.join(missing)}"
        )
    try:
        cfg = json.loads((d / CONFIG_FILE).read_text())
    except (OSError, ValueError) as err:
        raise CorruptCheckpointError(f"{d / CONFIG_FILE} is not valid JSON ({err})") from None
    if not isinstance(cfg, dict) or cfg.get("format") != FORMAT or not {"model", "image_size"} <= set(cfg):
        raise CorruptCheckpointError(f"{d / CONFIG_FILE} is not a RadGen checkpoint config")
    return cfg


def load_tokenizers(directory: str | Path) -> dict[str, Any]:
    """The tokenizers saved in a model directory; CorruptCheckpointError naming one that cannot be loaded."""
    d, out = Path(directory), {}
    for key, sub in TOKENIZER_DIRS.items():
        if (d / sub).is_dir():
            try:
                out[key] = load_tokenizer(d / sub)
            except Exception as err:  # noqa: BLE001 - tokenizers raise many types for broken files
                raise CorruptCheckpointError(f"{d / sub} cannot be loaded as a tokenizer ({err})") from None
    return out


def rename_v1(name: str) -> str:
    """A format-1 tensor name in the composed layout."""
    for old, new in V1_RENAMES:
        if name == old or (old.endswith(".") and name.startswith(old)):
            return new + name[len(old) :] if old.endswith(".") else new
    return name


def load_weights(model: torch.nn.Module, path: Path, format_version: int, device: str) -> None:
    """Strict load (except OPTIONAL_BUFFERS) of a safetensors file, renaming format-1 tensors first."""
    tensors = load_file(str(path), device=device)
    if format_version < 2:
        tensors = {rename_v1(k): v for k, v in tensors.items()}
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    state = model.state_dict()
    loaded = {state[k].data_ptr() for k in tensors if k in state}
    # a tied weight (BART's lm_head = shared embeddings) is saved once, under one of its names
    missing = sorted(k for k in set(missing) - OPTIONAL_BUFFERS if state[k].data_ptr() not in loaded)
    if missing or unexpected:
        raise RuntimeError(f"missing tensors {missing[:5]}, unexpected tensors {sorted(unexpected)[:5]}")


def load_directory(directory: str | Path, map_location: str | torch.device = "cpu") -> RadGenModel:
    """Rebuild from config.json (no hub access) and load model.safetensors strictly; never unpickles.

    Strict except for OPTIONAL_BUFFERS: a checkpoint saved before `prior_logit_adjust` existed loads with
    zero offsets, i.e. with exactly the probabilities it produced then (no format bump needed).
    """
    from radgen.models.builders import build_model  # the builders import the model class

    d = Path(directory)
    raw = check_checkpoint(d)
    model = build_model(
        RadGenConfig.from_dict(raw), tokenizers=load_tokenizers(d), hf_configs=raw.get("hf_configs") or {}
    )
    try:
        load_weights(model, d / WEIGHTS_FILE, int(raw.get("format_version", 1)), str(map_location))
    except Exception as err:  # noqa: BLE001 - safetensors/torch errors for truncated or mismatched files
        raise CorruptCheckpointError(
            f"{d / WEIGHTS_FILE} cannot be loaded into the model of {d / CONFIG_FILE} "
            f"({type(err).__name__}: {str(err)[:300]})"
        ) from None
    model.to(map_location)
    model.eval()
    return model
