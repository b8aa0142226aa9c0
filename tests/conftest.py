"""Fixtures shared by the model, training and CLI tests: one synthetic dataset and one trained reference run
per session (training is the expensive part), and one torch thread so parallel test processes do not fight."""

from __future__ import annotations

import model_fixtures as mf
import pytest


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    yield from mf.one_thread()


@pytest.fixture(scope="session")
def data(tmp_path_factory) -> mf.SynthData:
    return mf.shared_synthetic(tmp_path_factory)


@pytest.fixture(scope="session")
def reference(tmp_path_factory) -> mf.Run:
    return mf.reference_run(tmp_path_factory)
