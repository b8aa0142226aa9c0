"""House style is part of the contract: ruff, snakefmt and snakemake --lint stay clean."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    path = BIN / name
    if not path.exists() and shutil.which(name) is None:
        pytest.skip(f"{name} not installed (pip install -e '.[test]')")
    return str(path) if path.exists() else name


def check(args: list[str]) -> None:
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, (
        f"{' '.join(args)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    )


def test_ruff_clean():
    check([tool("ruff"), "check", "radgen", "scripts", "tests", "bench"])


def test_ruff_format_clean():
    check([tool("ruff"), "format", "--check", "radgen", "scripts", "tests", "bench"])


def test_snakefmt_clean():
    check([tool("snakefmt"), "--check", "workflow/"])


def test_snakemake_lint_clean():
    check([sys.executable, "-m", "snakemake", "--lint"])
