"""The SLURM profile (workflow/profiles/slurm): what it plans, and that it really runs jobs through SLURM.

- Without a cluster: the profile gives `gpu: 1` and a GPU partition to every train/predict job and caps no GPU
  globally (parsed from a dry run of the embedded default config).
- With a cluster: a one-node SLURM (tests/slurm_cluster.py) is started inside the test, installing the Debian
  packages first when missing and we are root with apt-get, else the test is skipped. The node mirrors the profile:
  one partition per partition name the profile uses, enough CPUs/memory for its requests, one fake GPU. The real
  profile then runs the data jobs and one one-epoch training job (`--gpus=1`) of a tiny config; only test-speed
  and test-cluster overrides are added on the command line. Everything runs under `timeout -s KILL`, and every
  daemon and job is stopped at the end.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from slurm_cluster import ClusterError, SlurmCluster, ensure_installed, kill_processes_using

ROOT = Path(__file__).resolve().parent.parent
PROFILE_DIR = Path("workflow") / "profiles" / "slurm"
COPIED = ("workflow", "scripts", "config", "paper", "radgen")
GPU_RULES = ("train", "predict")
TRAINED = "no_report_generation"  # the cheapest variant (image encoder only): one real GPU-resourced job
HARD_TIMEOUT = 240  # seconds: the snakemake run is SIGKILLed after this, so a stuck run can never hang CI

needs_plugin = pytest.mark.skipif(
    importlib.util.find_spec("snakemake_executor_plugin_slurm") is None,
    reason="snakemake-executor-plugin-slurm is not installed (pip install -e '.[slurm]')",
)


def load_profile() -> dict:
    return yaml.safe_load((ROOT / PROFILE_DIR / "profile.yaml").read_text())


def as_dict(resources) -> dict:
    """Profile resources as a dict, whether written as a mapping or as a list of `name=value` strings."""
    if isinstance(resources, dict):
        return resources
    return dict(item.split("=", 1) for item in resources or [])


def rule_resources(profile: dict, rule: str) -> dict:
    """What the profile asks for one rule: default-resources overlaid with its set-resources entry."""
    return {**as_dict(profile.get("default-resources")), **(profile.get("set-resources") or {}).get(rule, {})}


def partitions(profile: dict) -> list[str]:
    rules = ["*", *(profile.get("set-resources") or {})]
    return list(dict.fromkeys(str(rule_resources(profile, r)["slurm_partition"]) for r in rules))


def copy_repo(dest: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "tables.tex", "variables.tex", "main.pdf", "main.aux")
    for name in COPIED:
        shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    return dest


def snakemake_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """This interpreter's bin directory first on PATH: jobs inside SLURM allocations start the same snakemake."""
    env = dict(base if base is not None else os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONHASHSEED"] = "0"
    return env


def planned_jobs(dry_run_output: str) -> list[tuple[str, dict[str, str]]]:
    """(rule, resources) of every job block of a dry run: a `rule X:` / `localrule X:` line, then `resources: ..`."""
    jobs: list[tuple[str, dict[str, str]]] = []
    for line in dry_run_output.splitlines():
        header = re.fullmatch(r"(?:local)?rule (\w+):", line.strip())
        if header:
            jobs.append((header.group(1), {}))
        elif line.strip().startswith("resources:") and jobs:
            items = line.split(":", 1)[1].split(", ")
            jobs[-1][1].update(item.strip().split("=", 1) for item in items if "=" in item)
    return jobs


# ---------------------------------------------------------------------------------------------------------------
# No cluster needed
# ---------------------------------------------------------------------------------------------------------------


def test_profile_gives_gpus_per_rule_and_never_caps_them_globally():
    profile = load_profile()
    assert profile["executor"] == "slurm"
    # `resources:` is a global cap: a `gpu` there would limit how many GPU jobs are queued at once.
    assert "gpu" not in as_dict(profile.get("resources")), "the SLURM profile must not cap gpu globally"
    assert "gpu" not in as_dict(profile.get("default-resources")), "only train/predict should ask for a GPU"
    default_partition = rule_resources(profile, "*")["slurm_partition"]
    for rule in GPU_RULES:
        wanted = rule_resources(profile, rule)
        assert wanted.get("gpu") == 1, rule
        assert wanted["slurm_partition"] != default_partition, f"{rule} should go to a GPU partition"
        assert "runtime" in wanted and "mem_mb" in wanted, rule


@pytest.mark.slow
@needs_plugin
def test_dry_run_plans_gpu_jobs_on_the_gpu_partition(tmp_path):
    """`snakemake -n` with the profile on the embedded default config, in a copy without any results."""
    work = copy_repo(tmp_path)
    dry = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--workflow-profile", str(work / PROFILE_DIR)],
        cwd=work,
        env=snakemake_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert dry.returncode == 0, dry.stderr[-4000:]
    jobs = planned_jobs(dry.stdout + dry.stderr)
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    expected = len(config["variants"]) * config["folds"]["k"]
    profile = load_profile()
    for rule in GPU_RULES:
        planned = [resources for name, resources in jobs if name == rule]
        assert len(planned) == expected, f"{rule}: {len(planned)} jobs planned, expected {expected}"
        gpu_partition = str(rule_resources(profile, rule)["slurm_partition"])
        for resources in planned:
            assert resources.get("gpu") == "1", resources
            assert resources.get("slurm_partition") == gpu_partition, resources
    others = [(name, resources) for name, resources in jobs if name not in GPU_RULES]
    assert others and all("gpu" not in resources for _, resources in others), others


# ---------------------------------------------------------------------------------------------------------------
# A real one-node cluster
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture
def slurm_cluster():
    reason = ensure_installed()
    if reason:
        pytest.skip(reason)
    profile = load_profile()
    wanted = [rule_resources(profile, r) for r in ["*", *(profile.get("set-resources") or {})]]
    cluster = SlurmCluster(
        partitions(profile),
        cpus=max(int(w.get("cpus_per_task", 1)) for w in wanted),
        memory_mb=max(int(w.get("mem_mb", 0)) for w in wanted),
    )
    for attempt in (1, 2):  # a second try with fresh ports, should another process grab one meanwhile
        try:
            cluster.start()
            break
        except (ClusterError, OSError, subprocess.SubprocessError) as err:
            cluster.stop()
            if attempt == 2:
                pytest.fail(f"could not start the test cluster: {err}")
    try:
        yield cluster
    finally:
        cluster.stop()


def tiny_config() -> dict:
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config["data"]["synthetic"]["n_images"] = 60
    config["data"]["synthetic"]["image_size"] = 64
    config["data"]["image_size"] = 32
    config["folds"]["k"] = 2
    # 60 images: 3 normal patients cannot fill every part of 2 folds
    config["folds"]["allow_missing_class"] = True
    config["training"]["epochs"] = 1
    return config


@needs_plugin
@pytest.mark.slurm
@pytest.mark.e2e
def test_slurm_profile_runs_jobs_through_a_real_cluster(slurm_cluster, tmp_path):
    """Data jobs in the default partition, one training job with `--gpus=1` in the GPU partition, folds locally."""
    work = copy_repo(tmp_path / "repo")
    (work / "tiny.yaml").write_text(yaml.safe_dump(tiny_config()))
    targets = ["results/data/folds.csv", "results/data/cache.npy", f"results/models/{TRAINED}/fold0"]
    command = [
        "timeout", "-s", "KILL", str(HARD_TIMEOUT),
        sys.executable, "-m", "snakemake",
        "--workflow-profile", str(work / PROFILE_DIR),
        "--configfile", "tiny.yaml",
        # test-only overrides: speed, a cluster without accounting (squeue for status, no account), logs kept
        "--jobs", "2", "--latency-wait", "5", "--retries", "0",
        "--slurm-init-seconds-before-status-checks", "2", "--seconds-between-status-checks", "2",
        "--slurm-status-command", "squeue", "--slurm-no-account", "--slurm-keep-successful-logs",
        *targets,
    ]  # fmt: skip
    try:
        result = subprocess.run(
            command,
            cwd=work,
            env=slurm_cluster.env(snakemake_env()),
            capture_output=True,
            text=True,
            timeout=HARD_TIMEOUT + 30,
            check=False,
        )
    finally:
        kill_processes_using(work)  # anything left of a killed run (never this process: its cwd is elsewhere)
    output = result.stdout + result.stderr
    killed = f" (killed after {HARD_TIMEOUT} s)" if result.returncode in (-9, 137) else ""
    assert result.returncode == 0, f"rc {result.returncode}{killed}\n{output[-6000:]}\n{slurm_cluster.logs()}"

    data = work / "results" / "data"
    assert pd.read_csv(data / "folds.csv")["fold"].nunique() == 2
    assert (data / "cache.npy").stat().st_size > 0 and (data / "cache_index.csv").exists()
    assert (work / "results" / "models" / TRAINED / "fold0" / "model.safetensors").exists()

    # Every non-local job went through sbatch, in the partition the profile gives its rule, and exited 0.
    profile = load_profile()
    jobs = slurm_cluster.jobs()
    by_rule = {
        job["comment"]: job for job in jobs
    }  # the plugin's --comment: rule_<name>[_wildcards_<values>]
    ctld_log = slurm_cluster.log("slurmctld", tail=None)
    submitted = {
        "manifest": "rule_manifest",
        "image_cache": "rule_image_cache",
        "train": f"rule_train_wildcards_{TRAINED}_0",
    }
    for rule, comment in submitted.items():
        job = by_rule.get(comment)
        assert job is not None, f"no SLURM job for {rule}: {jobs}\n{output[-3000:]}"
        assert job["state"] == "COMPLETED", job
        assert job["partition"] == rule_resources(profile, rule)["slurm_partition"], job
        assert f"_job_complete: JobId={job['id']} WEXITSTATUS 0" in ctld_log, job
        assert list((work / ".snakemake" / "slurm_logs" / f"rule_{rule}").rglob("*.log")), (
            f"no SLURM log for {rule}"
        )
    assert not any(c.startswith("rule_folds") for c in by_rule), (
        "folds is a local rule and must not be submitted"
    )

    # The training job asked SLURM for the (fake) GPU and ran: the node has one, so it was allocated. Not the data.
    train = slurm_cluster.job_details(by_rule[submitted["train"]]["id"])
    assert train.get("TresPerJob") == "gres:gpu:1", train
    manifest = slurm_cluster.job_details(by_rule["rule_manifest"]["id"])
    assert "gpu" not in manifest.get("TresPerJob", "") + manifest.get("TRES", ""), manifest

    # predict (like train) fits here too: its partition, --gpus, cpus and memory from the profile.
    wanted = rule_resources(profile, "predict")
    check = slurm_cluster.run(
        "sbatch", "--test-only", "-p", str(wanted["slurm_partition"]), f"--gpus={wanted['gpu']}",
        f"--cpus-per-task={wanted['cpus_per_task']}", f"--mem={wanted['mem_mb']}", "--wrap", "true",
    )  # fmt: skip
    assert "to start at" in check.stderr + check.stdout, f"predict is not schedulable: {check.stderr}"
