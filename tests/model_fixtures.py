"""Shared tiny data, configs and trained runs for the model / training / predict tests.

Not a conftest: the test modules import these helpers and wrap them in their own fixtures. Expensive results
(the synthetic dataset, the reference training run) are built once per pytest session through `once`, so that
every module that asks for them gets the same directories.

Sizes: 72 synthetic images at 32 px, 3 folds, the architecture of config/config.yaml (already tiny), batch 8,
a few epochs. Class proportions are deliberately unequal so that class weights N/(C·n_c) are not all 1.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from radgen.config import load_config, variant_config
from radgen.constants import CLASSES

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config" / "config.yaml"
PAPER_CONFIG = ROOT / "config" / "paper.yaml"

IMAGE_SIZE = 32
N_IMAGES = 72
K_FOLDS = 3
FOLD = 0
PROPORTIONS = {"normal": 0.2, "pneumonia": 0.5, "tb": 0.3}
REFERENCE_EPOCHS = 6  # enough for non-empty generated reports; the resume test interrupts after epoch 2

_SESSION: dict[str, Any] = {}


def one_thread() -> Iterator[None]:
    """Body of each module's autouse fixture: torch on one thread (2 busy cores; training runs use one anyway)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def once(key: str, factory: Callable[[], Any]) -> Any:
    """Build `factory()` once per pytest session (shared across test modules)."""
    if key not in _SESSION:
        _SESSION[key] = factory()
    return _SESSION[key]


# --------------------------------------------------------------------------- config
def tiny_config(path: Path = CONFIG) -> dict[str, Any]:
    """config/config.yaml as the workflow reads it, shrunk for tests: 32 px, CPU, batch 8, short reports."""
    cfg = load_config(path)
    cfg["data"]["image_size"] = IMAGE_SIZE
    tr = cfg["training"]
    tr.update(epochs=2, batch_size=8, device="cpu", num_workers=0, early_stopping_patience=100, seed=0)
    gen = cfg["model"]["report_generator"]
    gen["max_length"] = min(int(gen.get("max_length", 32)), 32)
    txt = cfg["model"]["text_encoder"]
    txt["max_length"] = min(int(txt.get("max_length", 48)), 48)
    return cfg


def variant(name: str, cfg: dict[str, Any] | None = None, **training: Any) -> dict[str, Any]:
    """A resolved variant of the tiny config, with training overrides."""
    v = variant_config(copy.deepcopy(cfg) if cfg is not None else tiny_config(), name)
    v["training"].update(training)
    return v


# --------------------------------------------------------------------------- data
@dataclass
class SynthData:
    root: Path
    manifest: pd.DataFrame
    folds: pd.DataFrame
    cache: Path
    cache_index: Path

    def kwargs(self, manifest: pd.DataFrame | None = None) -> dict[str, Any]:
        return {
            "manifest": self.manifest if manifest is None else manifest,
            "folds": self.folds,
            "cache": self.cache,
            "cache_index": self.cache_index,
        }

    def part(self, fold: int, role: str) -> pd.DataFrame:
        """Manifest rows of one part of `fold` (train | val | test), computed here from folds.csv alone."""
        df = self.manifest.merge(self.folds, on="image_id")
        if role == "test":
            return df[df["fold"] == fold]
        return df[(df["fold"] != fold) & (df["inner"] == role)]

    def image_path(self, image_id: str) -> Path:
        return Path(self.manifest.set_index("image_id").loc[image_id, "path"])


def make_synthetic(directory: Path) -> SynthData:
    from radgen.data.cache import build_cache
    from radgen.data.folds import make_folds
    from radgen.data.synthetic import generate_synthetic

    directory.mkdir(parents=True, exist_ok=True)
    manifest = generate_synthetic(
        directory / "images", n_images=N_IMAGES, image_size=IMAGE_SIZE, seed=0, proportions=PROPORTIONS
    )
    folds = make_folds(manifest, k=K_FOLDS, seed=0, inner_val_fraction=0.2)
    cache, index = directory / "cache.npy", directory / "cache_index.csv"
    build_cache(manifest, cache, index, image_size=IMAGE_SIZE)
    manifest.to_csv(directory / "manifest.csv", index=False)
    folds.to_csv(directory / "folds.csv", index=False)
    data = SynthData(directory, manifest, folds, cache, index)
    for role in ("train", "val", "test"):  # every part must hold every class, or the tests prove little
        labels = set(data.part(FOLD, role)["label"])
        assert labels == set(CLASSES), f"tiny synthetic data: fold {FOLD} {role} has classes {labels}"
    return data


def shared_synthetic(tmp_path_factory: Any) -> SynthData:
    return once("synthetic", lambda: make_synthetic(tmp_path_factory.mktemp("synthetic")))


# --------------------------------------------------------------------------- training / prediction
def train(
    v: dict[str, Any],
    data: SynthData,
    out_dir: Path,
    *,
    fold: int = FOLD,
    manifest: pd.DataFrame | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    from radgen.train import train_fold

    kwargs.setdefault("threads", 1)
    kwargs.setdefault("progress", False)
    return train_fold(
        v, **data.kwargs(manifest), fold=fold, output_dir=out_dir, image_size=IMAGE_SIZE, **kwargs
    )


def predict(
    model_dir: Path, data: SynthData, *, fold: int = FOLD, manifest: pd.DataFrame | None = None, **kwargs: Any
) -> pd.DataFrame:
    from radgen.predict import predict_fold

    kwargs.setdefault("threads", 1)
    kwargs.setdefault("device", "cpu")
    return predict_fold(model_dir, **data.kwargs(manifest), fold=fold, **kwargs)


@dataclass
class Run:
    model_dir: Path
    summary: dict[str, Any]
    predictions: pd.DataFrame


def reference_run(tmp_path_factory: Any) -> Run:
    """RadGen (tiny config) trained uninterrupted for REFERENCE_EPOCHS epochs on fold 0, and its held-out predictions."""

    def build() -> Run:
        data = shared_synthetic(tmp_path_factory)
        out = tmp_path_factory.mktemp("reference") / "radgen" / f"fold{FOLD}"
        summary = train(variant("radgen", epochs=REFERENCE_EPOCHS), data, out)
        return Run(out, summary, predict(out, data))

    return once("reference_run", build)
