"""Naming and reporting input of the data stage: class-name aliases, image ids, and the one error that lists
every problem found (grouped by kind, each with what to do)."""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from radgen.constants import CLASSES

_ALIASES = {
    "normal": ("normal", "healthy", "negative", "nofinding", "nofindings", "nodisease", "control", "clear"),
    "pneumonia": (
        "pneumonia",
        "pneumonias",
        "bacterial",
        "viral",
        "bacteria",
        "virus",
        "bacterialpneumonia",
        "viralpneumonia",
        "pneumoniabacterial",
        "pneumoniaviral",
        "cap",
    ),
    "tb": ("tb", "tuberculosis", "tbc", "ptb", "pulmonarytuberculosis", "tuberculous"),
}
LABEL_ALIASES: dict[str, str] = {alias: label for label, names in _ALIASES.items() for alias in names}


@dataclass(frozen=True)
class Problem:
    """One offending file or row: its kind (which says what to do), where, and what is wrong."""

    kind: str  # groups the message; each kind has one "what to do"
    where: str  # the file or row
    detail: str = ""


FIXES = {
    "unreadable image": "replace each file with a complete, decodable copy or remove it",
    "unknown label": f"rename it to one of {', '.join(CLASSES)} (aliases such as NORMAL, Pneumonia, Tuberculosis, "
    "TB are accepted, case-insensitive) or remove it",
    "duplicate id": "give each image a unique file name / path (ids come from the path without extension)",
    "duplicate pixel content": "the same film appears more than once: keep one copy",
    "empty class": "add images of that class; all classes are needed to train and evaluate",
    "missing report": "the configured variants train on reports (a report generator or text encoder is enabled): "
    "add a report for each image (reports.csv `filename,report` beside the class folders, or a "
    "`report` column in the csv), or configure only image-only variants",
    "bad input": "fix the input as described",
    "image outside class folder": "move it into the folder of its class",
}


class IngestError(ValueError):
    """Every problem found in the input, grouped by kind, with what to do about each."""

    def __init__(self, source: str, problems: list[Problem]):
        self.problems = problems
        groups: dict[str, list[Problem]] = defaultdict(list)
        for p in problems:
            groups[p.kind].append(p)
        lines = [f"{source}: {len(problems)} problem(s) found; no manifest was written."]
        for kind, items in groups.items():
            lines.append(f"{kind} ({len(items)}): {FIXES.get(kind, 'fix the input')}.")
            lines += [f"  - {p.where}" + (f": {p.detail}" if p.detail else "") for p in items]
        super().__init__("\n".join(lines))


def normalize_label(name: Any) -> str | None:
    """Class for a folder name or label value (case- and punctuation-insensitive alias), else None."""
    key = re.sub(r"[^a-z0-9]", "", str(name).lower())
    return LABEL_ALIASES.get(key)


def display_path(path: str | Path) -> str:
    """Path relative to the working directory when it lies under it, else absolute (POSIX separators)."""
    absolute = os.path.abspath(path)
    cwd = os.getcwd()
    if absolute == cwd or absolute.startswith(cwd.rstrip(os.sep) + os.sep):
        return Path(os.path.relpath(absolute, cwd)).as_posix()
    return Path(absolute).as_posix()


def image_id_from(relative: str | Path) -> str:
    """Stable, readable id from a path relative to the source root: 'NORMAL/sub/IM-1.png' -> 'NORMAL__sub__IM-1'."""
    rel = Path(relative)
    parts = [*rel.parent.parts, rel.stem] if rel.parent != Path(".") else [rel.stem]
    parts = [p for p in parts if p not in ("", ".", "/") and not p.endswith(":\\")]
    return "__".join(re.sub(r"[^A-Za-z0-9._-]+", "_", p) for p in parts)


def read_table(path: Path, problems: list[Problem], required: Iterable[str]) -> pd.DataFrame | None:
    """A user CSV as strings with lower-case column names; None (and a problem) when unreadable or incomplete."""
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except Exception as exc:  # noqa: BLE001 - any parse failure is reported, with its message
        problems.append(Problem("bad input", display_path(path), f"cannot be read as CSV ({exc})"))
        return None
    table.columns = [str(c).strip().lower() for c in table.columns]
    missing = [c for c in required if c not in table.columns]
    if missing:
        problems.append(
            Problem(
                "bad input", display_path(path), f"missing column(s) {missing}; found {list(table.columns)}"
            )
        )
        return None
    return table
