"""Per-epoch training checkpoints: tensors in safetensors, everything else in JSON (nothing is pickled).

Layout: <checkpoint_dir>/<key>/last/{state.safetensors, state.json} and <key>/best.safetensors. `key` hashes the
resolved config and the data, so a checkpoint of another config or dataset is never resumed. A new `last/` is
written beside the old one and swapped in by rename, so a kill mid-write leaves the previous epoch intact.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

STATE_TENSORS = "state.safetensors"
STATE_JSON = "state.json"


def _flatten_optimizer(sd: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors: dict[str, torch.Tensor] = {}
    meta: dict[str, Any] = {"param_groups": sd["param_groups"], "state": {}}
    for idx, st in sd["state"].items():
        meta["state"][str(idx)] = {}
        for name, value in st.items():
            if torch.is_tensor(value):
                tensors[f"optimizer.{idx}.{name}"] = value.detach().cpu().contiguous()
                meta["state"][str(idx)][name] = "tensor"
            else:
                meta["state"][str(idx)][name] = value
    return tensors, meta


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for idx, st in meta["state"].items():
        state[int(idx)] = {
            name: tensors[f"optimizer.{idx}.{name}"] if value == "tensor" else value
            for name, value in st.items()
        }
    return {"state": state, "param_groups": meta["param_groups"]}


def _model_tensors(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """state_dict without duplicated storage (tied embeddings are saved once, safetensors refuses aliases)."""
    seen: set[tuple[int, int, tuple[int, ...]]] = set()
    out: dict[str, torch.Tensor] = {}
    for name, t in model.state_dict().items():
        key = (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape))
        if t.numel() and key in seen:
            continue
        seen.add(key)
        out[name] = t.detach().cpu().contiguous().clone()
    return out


def save_model_tensors(model: torch.nn.Module, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    save_file(_model_tensors(model), str(tmp))
    os.replace(tmp, path)


def load_model_tensors(model: torch.nn.Module, path: Path) -> None:
    """Load weights saved by save_model_tensors; aliases (tied weights) are absent from the file by design."""
    _load_into(model, load_file(str(path)), str(path))


def _load_into(model: torch.nn.Module, tensors: dict[str, torch.Tensor], where: str) -> None:
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    if unexpected:
        raise RuntimeError(f"{where} does not match the model: unexpected tensors {unexpected[:5]}")
    own = model.state_dict()
    loaded_ptrs = {own[k].data_ptr() for k in tensors if k in own and own[k].numel()}
    for name in missing:  # only tied aliases of loaded tensors may be absent
        if own[name].data_ptr() not in loaded_ptrs:
            raise RuntimeError(f"{where} does not match the model: missing tensor {name}")


def save_state(
    directory: Path,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: Any,
    rng: dict[str, torch.Tensor],
    meta: dict[str, Any],
    ema: dict[str, torch.Tensor] | None = None,
) -> None:
    """Write <directory>/last atomically (write last.tmp, then swap)."""
    directory.mkdir(parents=True, exist_ok=True)
    tmp, last, old = directory / "last.tmp", directory / "last", directory / "last.old"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    tensors = {f"model.{k}": v for k, v in _model_tensors(model).items()}
    opt_tensors, opt_meta = _flatten_optimizer(optimizer.state_dict())
    tensors.update(opt_tensors)
    tensors.update({f"rng.{k}": v.detach().cpu().contiguous() for k, v in rng.items()})
    tensors.update({f"ema.{k}": v.detach().cpu().contiguous().clone() for k, v in (ema or {}).items()})
    save_file(tensors, str(tmp / STATE_TENSORS))
    payload = {
        "optimizer": opt_meta,
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict() if scaler is not None else {},
        **meta,
    }
    (tmp / STATE_JSON).write_text(json.dumps(payload, default=_json_default))
    if last.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(last, old)
    os.replace(tmp, last)
    shutil.rmtree(old, ignore_errors=True)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, tuple):
        return list(obj)
    if torch.is_tensor(obj) and obj.numel() == 1:
        return obj.item()
    raise TypeError(f"not JSON-serialisable in a checkpoint: {type(obj).__name__}")


def find_state(directory: Path) -> Path | None:
    """The newest complete `last` (or `last.old` when a kill hit the swap)."""
    for name in ("last", "last.old"):
        d = directory / name
        if (d / STATE_TENSORS).is_file() and (d / STATE_JSON).is_file():
            return d
    return None


def load_state(
    state_dir: Path,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: Any,
    ema: dict[str, torch.Tensor] | None = None,
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Restore model/optimizer/scheduler/scaler (and the weight average) in place; return (rng, JSON meta)."""
    tensors = load_file(str(state_dir / STATE_TENSORS))
    meta = json.loads((state_dir / STATE_JSON).read_text())
    _load_into(
        model, {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}, str(state_dir)
    )
    optimizer.load_state_dict(_unflatten_optimizer(tensors, meta.pop("optimizer")))
    scheduler.load_state_dict(meta.pop("scheduler"))
    scaler_state = meta.pop("scaler")
    if scaler is not None and scaler_state:
        scaler.load_state_dict(scaler_state)
    if ema:
        for k, v in ema.items():
            v.copy_(tensors[f"ema.{k}"])
    rng = {k[len("rng.") :]: v for k, v in tensors.items() if k.startswith("rng.")}
    return rng, meta
