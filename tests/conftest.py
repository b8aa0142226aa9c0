"""The suite's shared fixtures: one tiny workflow config, one tiny synthetic dataset, one trained reference run.

Why here: every test that needs "a small version of the real thing" asks for the same one, so a change of the
config format or of the data contract is fixed in one place, and the expensive pieces (the dataset, the
training run) are built once per session. Torch gets one thread per test module so that parallel test
processes on two cores do not fight.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import model_fixtures as mf
import pytest

# The variants of the tiny workflow: the reference, an image-only baseline, a reader of RadGen's generated
# reports (reports_from) and an ablation: one of each kind of job the DAG wires differently.
TINY_VARIANTS = ("radgen", "densenet121", "report_only", "no_gating")


def _tiny_config(variants: Iterable[str] = TINY_VARIANTS) -> dict[str, Any]:
    """The model tests' tiny config (model_fixtures: 32 px, 2 epochs of batch 8 on the CPU, short reports) with a
    tiny data and evaluation stage: 90 synthetic 64 px films, 2 folds, 200 bootstrap resamples, no METEOR."""
    config = mf.tiny_config()
    config["data"]["synthetic"].update(n_images=90, image_size=64)
    config["folds"]["k"] = 2
    config["evaluation"].update(bootstrap_resamples=200, meteor=False)
    config["variants"] = {name: config["variants"][name] for name in variants}
    return config


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that needs the trained reference run is `slow`: the run trains RadGen for 6 epochs."""
    for item in items:
        if "reference" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    yield from mf.one_thread()


@pytest.fixture(scope="session")
def tiny_config() -> Callable[..., dict[str, Any]]:
    """The tiny workflow config: call it (optionally with the variants to keep) for a fresh, mutable copy."""
    return _tiny_config


@pytest.fixture(scope="session")
def data(tmp_path_factory) -> mf.SynthData:
    """The tiny dataset: 72 synthetic 32 px films with reports, their folds and image cache (model_fixtures)."""
    return mf.shared_synthetic(tmp_path_factory)


@pytest.fixture(scope="session")
def reference(tmp_path_factory) -> mf.Run:
    """RadGen trained once on the tiny dataset (fold 0) and its held-out predictions; its users are `slow`."""
    return mf.reference_run(tmp_path_factory)
