"""Warnings of the data stage that bear on the validity of results, kept as small JSON files.

Each data job that can warn writes its own file (a declared Snakemake output, empty list when all is well):
results/data/manifest_warnings.json and results/data/folds_warnings.json, each a JSON list of
{"stage": str, "message": str}. The workflow prints them on the console when it starts and ends; the paper's
data section lists them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from radgen.io import write_text

WARNING_FILES: tuple[str, ...] = ("results/data/manifest_warnings.json", "results/data/folds_warnings.json")


def write_warnings(path: str | Path, stage: str, messages: Iterable[str]) -> None:
    """Write [{"stage", "message"}, ...] atomically (an empty list says the stage had nothing to warn about)."""
    records = [{"stage": stage, "message": str(m)} for m in messages]
    write_text(path, json.dumps(records, indent=2, ensure_ascii=False) + "\n")


def read_warnings(paths: Iterable[str | Path] = WARNING_FILES) -> list[dict[str, str]]:
    """Every record of the files that exist, in the order of `paths` (missing files are skipped)."""
    records: list[dict[str, str]] = []
    for path in paths:
        if Path(path).is_file():
            records += json.loads(Path(path).read_text(encoding="utf-8"))
    return records


def format_warnings(records: list[dict[str, str]]) -> str:
    """Console text for the records ('' when there are none)."""
    if not records:
        return ""
    lines = [f"RadGen data warnings ({len(records)}), which bear on the validity of the results:"]
    lines += [f"  - [{r['stage']}] {r['message']}" for r in records]
    return "\n".join(lines)


def print_warnings(paths: Iterable[str | Path] = WARNING_FILES, stream: TextIO | None = None) -> None:
    """Print the warnings files' records (nothing when there are none) on stderr, where people look: the
    workflow's onstart and onsuccess handlers call this."""
    text = format_warnings(read_warnings(paths))
    if text:
        print(text, file=stream or sys.stderr)
