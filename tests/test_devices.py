"""GPU jobs: no silent CPU fallback when a GPU is required, and one GPU per concurrent job on one machine.

No CUDA is needed: the claim takes its device list as an argument, and CUDA is faked where the wiring is tested.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time

import model_fixtures as mf
import pytest
import torch

import radgen.runtime as runtime
from radgen.devices import GpuBusyError, claim_gpu, claim_gpus, lock_dir, visible_gpus
from radgen.runtime import GpuRequiredError, job_device, resolve_device
from radgen.train import train_fold


# --------------------------------------------------------------------------- require_gpu
@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_required_gpu_missing_fails_with_the_likely_causes(no_cuda, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    with pytest.raises(GpuRequiredError) as info:
        resolve_device("auto", require_gpu=True)
    message = str(info.value)
    assert "training.require_gpu is true" in message
    assert "CUDA_VISIBLE_DEVICES=''" in message  # the empty variable is named as it is
    assert "no GPU was allocated" in message
    assert f"CUDA {torch.version.cuda or '?'}" in message  # what the wheel needs
    assert "make setup TORCH_INDEX=https://download.pytorch.org/whl/cu" in message
    assert "training.require_gpu: false" in message
    with pytest.raises(GpuRequiredError, match="'cpu'"):
        resolve_device("cpu", require_gpu=True)
    assert resolve_device("auto").type == "cpu"  # without the switch, CPU stays allowed


def test_a_gpu_requiring_training_job_fails_at_start(no_cuda, tmp_path):
    variant = mf.variant("radgen", device="auto", require_gpu=True)
    start = time.perf_counter()
    with pytest.raises(GpuRequiredError, match="no CUDA device"):
        train_fold(
            variant,
            manifest=tmp_path / "absent.csv",  # never read: the device check comes first
            folds=tmp_path / "absent.csv",
            cache=tmp_path / "absent.npy",
            cache_index=tmp_path / "absent.csv",
            fold=0,
            output_dir=tmp_path / "model",
        )
    assert time.perf_counter() - start < 1.0
    assert not (tmp_path / "model").exists()


def test_a_gpu_requiring_job_device_fails_before_claiming(no_cuda, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(GpuRequiredError), job_device("auto", require_gpu=True):
        pass
    with job_device("auto") as device:  # CPU: nothing is claimed
        assert device.type == "cpu"
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- one GPU per job
def test_visible_gpus_follow_cuda_visible_devices():
    assert visible_gpus(3, env={}) == ["0", "1", "2"]
    assert visible_gpus(2, env={"CUDA_VISIBLE_DEVICES": "3,5"}) == ["3", "5"]
    assert visible_gpus(1, env={"CUDA_VISIBLE_DEVICES": "GPU-1a2b, 7"}) == ["GPU-1a2b"]  # CUDA saw one
    assert visible_gpus(0, env={"CUDA_VISIBLE_DEVICES": ""}) == []


def test_concurrent_claimers_get_distinct_devices_and_a_release_frees_one(tmp_path):
    gpus = visible_gpus(3, env={"CUDA_VISIBLE_DEVICES": "3,5,6"})
    claims, barrier = [], threading.Barrier(3)

    def claimer() -> None:
        barrier.wait()  # all three try at the same moment
        claims.append(claim_gpu(gpus, tmp_path, poll_s=0.01, timeout_s=5))

    threads = [threading.Thread(target=claimer) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(c.physical for c in claims) == ["3", "5", "6"]
    assert sorted(c.index for c in claims) == [0, 1, 2]  # torch's logical index of each physical GPU
    with pytest.raises(GpuBusyError, match="3, 5, 6"):
        claim_gpu(gpus, tmp_path, poll_s=0.01, timeout_s=0.05)  # a fourth job waits; here it gives up

    freed = next(c for c in claims if c.physical == "5")
    freed.release()
    with claim_gpu(gpus, tmp_path, poll_s=0.01, timeout_s=1) as again:
        assert (again.physical, again.index) == ("5", 1)
    for c in claims:
        c.release()


def test_a_claim_held_by_another_process_is_respected_and_freed_when_it_dies(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from radgen.devices import claim_gpu; "
            f"c = claim_gpu(['3', '5'], {str(tmp_path)!r}); print(c.physical, flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        held = holder.stdout.readline().strip()
        assert held == "3"
        with claim_gpu(["3", "5"], tmp_path, poll_s=0.01, timeout_s=1) as mine:
            assert mine.physical == "5"
    finally:
        holder.kill()
        holder.wait()
    # the kernel dropped the dead job's lock
    with claim_gpu(["3"], tmp_path, poll_s=0.01, timeout_s=1) as after:
        assert after.physical == "3"


def test_lock_dir_is_per_host_and_per_slurm_job():
    plain, slurm = lock_dir(env={}), lock_dir(env={"SLURM_JOB_ID": "4711"})
    assert plain.name.startswith("radgen-gpu-locks-")
    assert slurm.name == plain.name + "-slurm4711"


def test_concurrent_gpu_jobs_use_distinct_cuda_devices(tmp_path, monkeypatch):
    """job_device with faked CUDA: two jobs at once on a machine whose scheduler left GPUs 3 and 5 visible."""
    current: list[int] = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_device", current.append)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with job_device("auto", require_gpu=True) as first, job_device("cuda") as second:
        assert {str(first), str(second)} == {"cuda:0", "cuda:1"}
        assert sorted(current) == [0, 1]
    with job_device("auto") as third:  # both released
        assert str(third) == "cuda:0"
    assert runtime.resolve_device("cuda:1").index == 1  # an explicit index is used as given


def test_a_multi_gpu_job_claims_its_devices_all_or_none(tmp_path):
    """A DDP job (training.devices 2) takes two free GPUs together; with only one free it holds none and waits."""
    gpus = ["0", "1", "2"]
    single = claim_gpu(gpus, tmp_path, poll_s=0.01, timeout_s=1)
    pair = claim_gpus(gpus, 2, tmp_path, poll_s=0.01, timeout_s=1)
    assert sorted(c.physical for c in [single, *pair]) == gpus  # three distinct devices
    pair[0].release()  # one free: not enough for another pair
    with pytest.raises(GpuBusyError, match="2 of the 3 GPUs"):
        claim_gpus(gpus, 2, tmp_path, poll_s=0.01, timeout_s=0.05)
    with claim_gpu(gpus, tmp_path, poll_s=0.01, timeout_s=0.05) as freed:  # the failed pair held nothing back
        assert freed.physical == pair[0].physical
    with pytest.raises(ValueError, match="cannot claim 4"):
        claim_gpus(gpus, 4, tmp_path)
    for c in [single, pair[1]]:
        c.release()


def test_a_multi_gpu_job_device_hands_its_gpus_to_the_workers(tmp_path, monkeypatch):
    """job_device(count=2) beside a one-GPU job: the workers' CUDA_VISIBLE_DEVICES are the two GPUs it claimed."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    monkeypatch.setattr(torch.cuda, "set_device", lambda index: None)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,6,7")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with job_device("cuda") as one:
        with job_device("cuda", count=2) as many:
            assert str(many) == "cuda" and str(one) == "cuda:0"
            assert os.environ["CUDA_VISIBLE_DEVICES"] == "6,7"  # GPU 4 is the other job's
