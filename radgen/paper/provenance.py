"""Where the numbers in the paper came from: code version, configuration and software, as short strings.

Why generated: a PDF whose provenance section is typed by hand drifts from the run it describes; these values are
computed at render time and written into ``paper/variables.tex``.
"""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES: tuple[str, ...] = ("torch", "transformers", "timm", "snakemake", "radgen")


def git_commit(repo_dir: str | Path = ".") -> str:
    """Short commit hash, with ``-dirty`` when tracked files differ from it; ``unknown`` outside git.

    Untracked files do not count as dirty (as in ``git describe --dirty``): results/ and the generated paper files
    are untracked by design.
    """

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", "-C", str(repo_dir), *args], capture_output=True, text=True, timeout=30, check=False
        )

    try:
        head = run("rev-parse", "--short=10", "HEAD")
        if head.returncode != 0 or not head.stdout.strip():
            return "unknown"
        status = run("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = head.stdout.strip()
    return commit + "-dirty" if status.returncode != 0 or status.stdout.strip() else commit


def package_versions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Installed versions (``python`` included) of the packages the results depend on; ``not installed`` if absent."""
    versions = {"python": platform.python_version()}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
