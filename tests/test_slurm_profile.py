"""The SLURM profile (workflow/profiles/slurm) and the config's `resources`: what they plan, and that jobs really run.

- Without a cluster: `radgen.job_resources` turns a config's `resources` block into Snakemake resources (hand-written
  cases); the profile sets no resource at all (the config is the one source); a dry run of the embedded default
  config with the profile gives every train/predict job its GPU request (`gpu`, or `gres` when the config says so),
  partition, memory and runtime from the config, and submits `evaluate_fold` (not a local rule).
- With a cluster: a one-node SLURM with accounting (tests/slurm_cluster.py: munged, MariaDB, slurmdbd, slurmctld,
  slurmd) is started inside the test, installing the Debian packages first when missing and we are root with
  apt-get, else the test is skipped. The real profile then runs the data jobs, two one-epoch training jobs, their
  predictions and evaluations, and the report floors (a job array) of a tiny config, with the account set in the
  config; job status goes through the plugin's default, `sacct`. The test reads back from `sacct` that every job ran
  under that account, in its partition, and that every training job asked for the GPU. Everything runs under
  `timeout -s KILL`, and every daemon is stopped at the end, checked with `pgrep`.
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
from slurm_cluster import (
    ACCOUNT,
    ClusterError,
    SlurmCluster,
    ensure_installed,
    kill_processes_using,
    running_daemons,
)

from radgen.job_resources import job_resources

ROOT = Path(__file__).resolve().parent.parent
PROFILE_DIR = Path("workflow") / "profiles" / "slurm"
COPIED = ("workflow", "scripts", "config", "paper", "radgen")
GPU_RULES = ("train", "predict")
TRAINED = "no_report_generation"  # the cheapest variant (image encoder only): real GPU-resourced jobs
HARD_TIMEOUT = 600  # seconds: the snakemake run is SIGKILLed after this, so a stuck run can never hang CI
DEFAULT_PARTITION = "cpu"  # the test cluster's default partition: where jobs without a partition land

needs_plugin = pytest.mark.skipif(
    importlib.util.find_spec("snakemake_executor_plugin_slurm") is None,
    reason="snakemake-executor-plugin-slurm is not installed (pip install -e '.[slurm]')",
)


def load_profile() -> dict:
    return yaml.safe_load((ROOT / PROFILE_DIR / "profile.yaml").read_text())


def load_config(name: str = "config.yaml") -> dict:
    return yaml.safe_load((ROOT / "config" / name).read_text())


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
    """(rule, resources) of every job block of a dry run: a `rule X:` line, then `resources: ..`."""
    jobs: list[tuple[str, dict[str, str]]] = []
    for line in dry_run_output.splitlines():
        header = re.fullmatch(r"(?:local)?rule (\w+):", line.strip())
        if header:
            jobs.append((header.group(1), {}))
        elif line.strip().startswith("resources:") and jobs:
            items = line.split(":", 1)[1].split(", ")
            jobs[-1][1].update(item.strip().split("=", 1) for item in items if "=" in item)
    return jobs


def local_rules() -> set[str]:
    """The Snakefile's `localrules:` (a dry run prints every job as `rule`, local or not)."""
    text = (ROOT / "workflow" / "Snakefile").read_text()
    block = re.search(r"^localrules:\n((?:[ \t]+\w+,?\n)+)", text, re.MULTILINE)
    assert block, "no localrules block in workflow/Snakefile"
    return set(re.findall(r"\w+", block.group(1)))


# ---------------------------------------------------------------------------------------------------------------
# No cluster needed
# ---------------------------------------------------------------------------------------------------------------

SITE = {
    "slurm": {"account": "proj42", "gpu_request": "gpus", "gpu_model": ""},
    "default": {"mem_mb": 8000, "runtime": 60, "partition": ""},
    "train": {"gpu": 2, "threads": 8, "mem_mb": 32000, "runtime": 720, "partition": "gpu"},
    "predict": {"gpu": 1, "runtime": 30},
}


def test_job_resources_overlay_the_default_block_and_carry_account_and_partition():
    assert job_resources(SITE, "train") == {
        "mem_mb": 32000, "runtime": 720, "slurm_partition": "gpu", "slurm_account": "proj42", "gpu": 2,
    }  # fmt: skip
    # predict inherits memory and the (empty: cluster default, so absent) partition from `default`
    assert job_resources(SITE, "predict") == {
        "mem_mb": 8000,
        "runtime": 30,
        "slurm_account": "proj42",
        "gpu": 1,
    }
    # no GPU outside a stage that asks for one; no account when none is configured
    no_account = {**SITE, "slurm": {"account": ""}}
    assert job_resources(no_account, "default") == {"mem_mb": 8000, "runtime": 60}
    assert job_resources(SITE, "train", gpus=4)["gpu"] == 4  # a rule may derive the count elsewhere
    assert "gpu" not in job_resources(SITE, "train", gpus=0)
    assert job_resources({}, "train") == {}  # nothing configured: Snakemake's and SLURM's defaults


@pytest.mark.parametrize(
    ("slurm", "expected"),
    [
        ({"gpu_request": "gpus"}, {"gpu": 2}),
        ({"gpu_request": "gpus", "gpu_model": "a100"}, {"gpu": 2, "gpu_model": "a100"}),
        ({"gpu_request": "gres"}, {"gres": "gpu:2"}),  # no `gpu`: the plugin would also send --gpus
        ({"gpu_request": "gres", "gpu_model": "a100"}, {"gres": "gpu:a100:2"}),
    ],
)
def test_gpu_request_is_gpus_or_gres_never_both(slurm, expected):
    resources = job_resources({**SITE, "slurm": slurm}, "train")
    assert {k: v for k, v in resources.items() if k in ("gpu", "gpu_model", "gres")} == expected


def test_profile_sets_no_resource_so_the_config_is_their_one_source():
    profile = load_profile()
    assert profile["executor"] == "slurm"
    # set-resources / set-threads override what a rule declares (the 8 h against 720 min of the past);
    # default-resources would be a second place for memory and runtime; `resources` a global cap.
    overriding = {"resources", "default-resources", "set-resources", "set-threads"} & set(profile)
    assert not overriding, f"the SLURM profile must leave resources to the config: {overriding}"


def test_slurm_extra_pins_the_major_version_the_profile_is_written_for():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    from importlib.metadata import PackageNotFoundError, version

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    (pin,) = [dep for dep in extras["slurm"] if dep.startswith("snakemake-executor-plugin-slurm")]
    profile_text = (ROOT / PROFILE_DIR / "profile.yaml").read_text()
    major = int(re.search(r"written for snakemake-executor-plugin-slurm (\d+)\.x", profile_text).group(1))
    assert re.search(rf">={major}(\.\d+)*\b", pin) and f"<{major + 1}" in pin, pin
    try:
        installed = int(version("snakemake-executor-plugin-slurm").split(".")[0])
    except PackageNotFoundError:
        pytest.skip("snakemake-executor-plugin-slurm is not installed")
    assert installed == major, f"installed plugin {installed}.x, profile written for {major}.x"


@pytest.mark.slow
@needs_plugin
@pytest.mark.parametrize("gpu_request", ["gpus", "gres"])
def test_dry_run_plans_resources_from_the_config(tmp_path, gpu_request):
    """`snakemake -n` with the profile on the embedded default config (plus an account), in a copy without results."""
    work = copy_repo(tmp_path)
    config = load_config()
    config["resources"]["slurm"].update(account="proj42", gpu_request=gpu_request)
    (work / "site.yaml").write_text(yaml.safe_dump(config))
    dry = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--workflow-profile", str(work / PROFILE_DIR),
         "--configfile", "site.yaml"],
        cwd=work, env=snakemake_env(), capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert dry.returncode == 0, dry.stderr[-4000:]
    jobs = planned_jobs(dry.stdout + dry.stderr)
    expected = len(config["variants"]) * config["folds"]["k"]
    for rule in GPU_RULES:
        wanted = config["resources"][rule]
        planned = [resources for name, resources in jobs if name == rule]
        assert len(planned) == expected, f"{rule}: {len(planned)} jobs planned, expected {expected}"
        for resources in planned:
            gpu = {"gres": f"gpu:{wanted['gpu']}"} if gpu_request == "gres" else {"gpu": str(wanted["gpu"])}
            assert {k: resources.get(k) for k in gpu} == gpu and not ({"gpu", "gres"} - set(gpu)) & set(
                resources
            )
            assert resources.get("slurm_partition") == wanted["partition"], resources
            assert resources.get("runtime") == str(wanted["runtime"]), (
                resources
            )  # the config's, not a profile's
            assert resources.get("mem_mb") == str(wanted["mem_mb"]), resources
            assert resources.get("slurm_account") == "proj42", resources
    local = local_rules()
    assert {"folds", "fetch_pretrained"} <= local and "evaluate_fold" not in local, local
    submitted = [(name, resources) for name, resources in jobs if name not in local | set(GPU_RULES)]
    assert {"evaluate_fold", "report_floors", "manifest", "image_cache"} <= {name for name, _ in submitted}
    for name, resources in submitted:
        assert not {"gpu", "gres"} & set(resources), (name, resources)
        assert resources.get("slurm_account") == "proj42", (name, resources)
        assert resources.get("runtime") == str(config["resources"]["default"]["runtime"]), (name, resources)
        assert "slurm_partition" not in resources, (
            name,
            resources,
        )  # "" in the config: the cluster's default


# ---------------------------------------------------------------------------------------------------------------
# A real one-node cluster
# ---------------------------------------------------------------------------------------------------------------


def tiny_config() -> dict:
    config = load_config()
    config["data"]["synthetic"]["n_images"] = 60
    config["data"]["synthetic"]["image_size"] = 64
    config["data"]["image_size"] = 32
    config["folds"]["k"] = 2
    # 60 images: 3 normal patients cannot fill every part of 2 folds
    config["folds"]["allow_missing_class"] = True
    config["training"]["epochs"] = 1
    config["resources"]["slurm"]["account"] = (
        ACCOUNT  # not root's default account: proves the setting arrives
    )
    return config


@pytest.fixture
def slurm_cluster():
    """A cluster shaped like the tiny config's resources; afterwards no cluster daemon may be left (pgrep)."""
    reason = ensure_installed()
    if reason:
        pytest.skip(reason)
    resources = tiny_config()["resources"]
    blocks = [resources["default"], *(resources[rule] for rule in GPU_RULES)]
    cluster = SlurmCluster(
        [DEFAULT_PARTITION, *(block["partition"] for block in blocks if block.get("partition"))],
        cpus=max(int(block.get("threads", 1)) for block in blocks),
        memory_mb=max(int(block.get("mem_mb", 0)) for block in blocks),
    )
    before = running_daemons()
    try:
        for attempt in (1, 2):  # a second try with fresh ports, should another process grab one meanwhile
            try:
                cluster.start()
                break
            except (ClusterError, OSError, subprocess.SubprocessError) as err:
                cluster.stop()
                if attempt == 2:
                    pytest.fail(f"could not start the test cluster: {err}")
        yield cluster
    finally:
        cluster.stop()
        left = {pid: name for pid, name in running_daemons().items() if pid not in before}
        assert not left, f"cluster daemons left running: {left}"


@needs_plugin
@pytest.mark.slurm
@pytest.mark.e2e
def test_slurm_profile_runs_jobs_through_a_real_cluster(slurm_cluster, tmp_path):
    """Data, training (GPU), prediction (GPU), evaluation and floors (an array) under the account, status by sacct."""
    config = tiny_config()
    work = copy_repo(tmp_path / "repo")
    (work / "tiny.yaml").write_text(yaml.safe_dump(config))
    folds = range(config["folds"]["k"])
    targets = [
        "results/data/folds.csv",
        *(f"results/metrics/{TRAINED}/fold{fold}.json" for fold in folds),
        *(f"results/metrics/floors/fold{fold}.json" for fold in folds),
    ]
    command = [
        "timeout", "-s", "KILL", str(HARD_TIMEOUT),
        sys.executable, "-m", "snakemake",
        "--workflow-profile", str(work / PROFILE_DIR),
        "--configfile", "tiny.yaml",
        # test-only overrides: speed and logs kept. No status command, no --slurm-no-account: the defaults run.
        "--jobs", "4", "--latency-wait", "5", "--retries", "0",
        "--slurm-init-seconds-before-status-checks", "2", "--seconds-between-status-checks", "2",
        "--slurm-keep-successful-logs",
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
    for target in targets:
        assert (work / target).stat().st_size > 0, target
    assert pd.read_csv(work / "results" / "data" / "folds.csv")["fold"].nunique() == len(folds)

    # Job status came from sacct (the plugin's query of this run by name), i.e. from accounting.
    status_queries = [c for c in slurm_cluster.calls("sacct") if "JobIdRaw,State" in c and "--name" in c]
    assert status_queries, f"the plugin never asked sacct for job states: {slurm_cluster.calls('sacct')[:5]}"

    # What slurmdbd recorded: one row per job (array tasks one each); the plugin's --comment names the rule.
    jobs = slurm_cluster.accounting()
    by_rule: dict[str, list[dict[str, str]]] = {}
    for job in jobs:
        by_rule.setdefault(re.sub(r"^rule_(\w+?)(_wildcards_.*)?$", r"\1", job["Comment"]), []).append(job)
    expected = {
        "manifest": 1,
        "image_cache": 1,
        "train": 2,
        "predict": 2,
        "evaluate_fold": 2,
        "report_floors": 2,
    }
    assert {rule: len(by_rule.get(rule, [])) for rule in expected} == expected, jobs
    assert set(by_rule) == set(expected), f"local rules (folds) must not be submitted: {sorted(by_rule)}"
    for rule, rule_jobs in by_rule.items():
        partition = config["resources"].get(rule, {}).get("partition") or DEFAULT_PARTITION
        for job in rule_jobs:
            assert (job["State"], job["ExitCode"]) == ("COMPLETED", "0:0"), job
            assert job["Account"] == ACCOUNT, job  # resources.slurm.account reached sbatch -A
            assert job["Partition"] == partition, job
            requested = re.findall(
                r"gres/gpu=(\d+)", job["ReqTRES"]
            )  # every GPU job asked for its GPUs, no other
            assert requested == ([str(config["resources"][rule]["gpu"])] if rule in GPU_RULES else []), job
    # the two report floors were ready together: one sbatch, an array of two tasks
    floors = by_rule["report_floors"]
    assert len({job["JobID"].split("_")[0] for job in floors}) == 1 and all(
        "_" in j["JobID"] for j in floors
    ), floors
    assert list((work / ".snakemake" / "slurm_logs" / "rule_train").rglob("*.log")), "no SLURM log for train"
