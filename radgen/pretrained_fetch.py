"""Materialise every pretrained model a config names into one directory, before any GPU job (rule fetch_pretrained).

Why: on a cluster whose compute nodes have no internet, a download inside the training job fails only after
queueing, in every job. This runs once on the login node (a Snakemake local rule), fails there with advice, and
writes a manifest {component key -> local path} from which training loads (radgen.models.pretrained.resolve_sources).

- transformers (report generator, text encoder): `from_pretrained(name)` (the Hugging Face cache first; the hub only
  when HF_HUB_OFFLINE is not set) then `save_pretrained(<dir>/<part>/<name>)`: config, safetensors weights, tokenizer.
- timm (image encoder): `timm.create_model(name, pretrained=True)`, its state dict saved as safetensors with its
  pretrained_cfg (JSON); training loads it through `pretrained_cfg_overlay=dict(file=...)`.
- A `name` that is a local directory (transformers), or a timm `pretrained_cfg_overlay.file`, is referenced as it
  is, after a check that it holds a checkpoint; nothing is copied.
A materialised directory is complete once its marker file exists; a rerun reuses it.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from radgen.variants import generates_reports, reads_text

log = logging.getLogger(__name__)

MARKER = ".radgen-complete.json"
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json")
CONFIG_KEYS = {"report_generator": "model.report_generator.name", "text_encoder": "model.text_encoder.name"}
DEFAULT_NAMES = {"report_generator": "facebook/bart-base", "text_encoder": "bert-base-uncased"}
TIMM_WEIGHTS = "model.safetensors"  # a materialised timm model: its state dict, plus pretrained_cfg.json
TIMM_CFG = "pretrained_cfg.json"


class PretrainedWeightsUnavailable(RuntimeError):
    """Pretrained weights were asked for but are neither a local directory nor in the local cache."""


# --------------------------------------------------------------------------- what a config needs
@dataclass(frozen=True)
class PretrainedComponent:
    """One pretrained model a config names: `part` of the RadGen model, its `name` (timm model name, hub id or
    local directory) and, for timm, a weights `file` the config already gives (pretrained_cfg_overlay.file)."""

    part: str
    name: str
    file: str | None = None

    @property
    def key(self) -> str:
        """The manifest key: the same model named by several variants is fetched once."""
        return f"{self.part}:{self.name}" + (f"@{self.file}" if self.file else "")

    @property
    def library(self) -> str:
        return "timm" if self.part == "image_encoder" else "transformers"


def pretrained_components(model_cfg: Mapping[str, Any]) -> list[PretrainedComponent]:
    """The pretrained models a resolved model config loads weights for (parts it has, with pretrained: true)."""
    out = []
    img = model_cfg.get("image_encoder")
    if img is not None and img.get("pretrained", False):
        overlay = (img.get("kwargs") or {}).get("pretrained_cfg_overlay") or {}
        out.append(PretrainedComponent("image_encoder", str(img["name"]), overlay.get("file")))
    enabled = {"report_generator": generates_reports(model_cfg), "text_encoder": reads_text(model_cfg)}
    for part, used in enabled.items():
        block = model_cfg.get(part) or {}
        if used and block.get("pretrained", False):
            out.append(PretrainedComponent(part, str(block.get("name", DEFAULT_NAMES[part]))))
    return out


def components_of(models: Iterable[Mapping[str, Any]]) -> list[PretrainedComponent]:
    """Distinct pretrained components of several resolved model configs (one per variant), in first-seen order."""
    seen: dict[str, PretrainedComponent] = {}
    for model_cfg in models:
        for comp in pretrained_components(model_cfg):
            seen.setdefault(comp.key, comp)
    return list(seen.values())


# --------------------------------------------------------------------------- materialising
def fetch_all(components: Iterable[PretrainedComponent], directory: str | Path) -> dict[str, str]:
    """Materialise each component under `directory`; return the manifest {key -> local path}."""
    return {comp.key: materialise(comp, Path(directory)) for comp in components}


def write_manifest(manifest: Mapping[str, str], path: str | Path) -> None:
    """Write the manifest atomically (a half-written one must never look valid)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(dict(manifest), indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


def materialise(comp: PretrainedComponent, directory: Path) -> str:
    """The local path training will load `comp` from, fetched into `directory` unless it is local already."""
    if comp.library == "timm":
        if comp.file:
            return _local_file(comp)
        return _fetch_timm(comp, directory)
    local = Path(comp.name).expanduser()
    if local.is_dir():
        return _local_hf_dir(comp, local)
    if _looks_like_path(comp.name):
        raise PretrainedWeightsUnavailable(
            f"{comp.part}: {comp.name!r} looks like a local directory but does not exist; set "
            f"`{CONFIG_KEYS[comp.part]}` to a directory holding config.json, the weights and the tokenizer"
        )
    return _fetch_hf(comp, directory)


def target_dir(comp: PretrainedComponent, directory: Path) -> Path:
    """<directory>/<part>/<name with '/' as '--'> (hub ids and timm names are flat, readable directory names)."""
    return directory / comp.part / re.sub(r"[^A-Za-z0-9._-]", "_", comp.name.replace("/", "--"))


def _done(target: Path, comp: PretrainedComponent) -> bool:
    try:
        return json.loads((target / MARKER).read_text()).get("key") == comp.key
    except (OSError, ValueError, AttributeError):
        return False


def _finish(tmp: Path, target: Path, comp: PretrainedComponent) -> str:
    (tmp / MARKER).write_text(
        json.dumps({"key": comp.key, "name": comp.name, "library": comp.library}) + "\n"
    )
    if target.exists():
        shutil.rmtree(target)
    tmp.replace(target)
    log.info("materialised %s into %s", comp.key, target)
    return str(target)


def _staging(target: Path) -> Path:
    tmp = target.with_name(f".{target.name}.partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    return tmp


def _fetch_hf(comp: PretrainedComponent, directory: Path) -> str:
    target = target_dir(comp, directory)
    if _done(target, comp):
        return str(target)
    from transformers import AutoModel, AutoTokenizer, BartForConditionalGeneration

    from radgen.models.pretrained import hf_from_pretrained

    cls = BartForConditionalGeneration if comp.part == "report_generator" else AutoModel
    what = comp.part.replace("_", " ")
    model = hf_from_pretrained(cls, comp.name, what=what, config_key=CONFIG_KEYS[comp.part])
    tokenizer = hf_from_pretrained(
        AutoTokenizer, comp.name, what=f"{what} tokenizer", config_key=CONFIG_KEYS[comp.part]
    )
    tmp = _staging(target)
    model.save_pretrained(str(tmp))
    tokenizer.save_pretrained(str(tmp))
    return _finish(tmp, target, comp)


def _fetch_timm(comp: PretrainedComponent, directory: Path) -> str:
    target = target_dir(comp, directory)
    if _done(target, comp):
        return str(target)
    from safetensors.torch import save_file

    from radgen.models.pretrained import timm_create

    model = timm_create(comp.name, pretrained=True)
    tmp = _staging(target)
    state = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    save_file(state, str(tmp / TIMM_WEIGHTS), metadata={"format": "pt", "timm_model": comp.name})
    cfg = dict(getattr(model, "pretrained_cfg", None) or {})
    (tmp / TIMM_CFG).write_text(json.dumps(cfg, indent=2, default=str) + "\n")
    return _finish(tmp, target, comp)


def _local_hf_dir(comp: PretrainedComponent, path: Path) -> str:
    """Reference a local transformers directory after checking it holds a config, weights and a tokenizer."""
    missing = []
    if not (path / "config.json").is_file():
        missing.append("config.json")
    if not any((path / f).is_file() for f in WEIGHT_FILES):
        missing.append(f"weights (one of {', '.join(WEIGHT_FILES)})")
    if not any((path / f).is_file() for f in TOKENIZER_FILES):
        missing.append(f"a tokenizer (one of {', '.join(TOKENIZER_FILES)})")
    if missing:
        raise PretrainedWeightsUnavailable(
            f"{comp.part}: the local directory {path} (`{CONFIG_KEYS[comp.part]}`) is not a transformers "
            f"checkpoint; missing: {'; '.join(missing)}. Make one with `save_pretrained` or "
            f"`hf download NAME --local-dir {path}`"
        )
    return str(path.resolve())


def _local_file(comp: PretrainedComponent) -> str:
    path = Path(comp.file or "").expanduser()
    if not path.is_file():
        raise PretrainedWeightsUnavailable(
            f"image encoder: model.image_encoder.kwargs.pretrained_cfg_overlay.file {path} does not exist"
        )
    return str(path.resolve())


def _looks_like_path(name: str) -> bool:
    return name.startswith((".", "/", "~")) or name.count("/") > 1
