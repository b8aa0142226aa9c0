"""The `folder` source: one sub-folder per class (aliases accepted), optional reports.csv beside them."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .images import IMAGE_EXTENSIONS
from .problems import IngestError, Problem, display_path, image_id_from, normalize_label, read_table

log = logging.getLogger(__name__)

REPORTS_FILE = "reports.csv"
_IGNORED_NAMES = {"thumbs.db", "desktop.ini", "__macosx"}


def _is_ignored(path: Path) -> bool:
    return path.name.startswith(".") or path.name.lower() in _IGNORED_NAMES


def _match_report(name: str, by_rel: dict[str, int], by_name: dict[str, list[int]]) -> int | list[int] | None:
    """Row of the image a reports.csv `filename` names: its path under the folder, else its unique file name;
    a list of rows when the file name is ambiguous, None when nothing matches. The name is tried as written
    first (on POSIX a backslash can be part of a file name) and then with Windows separators read as '/'."""
    candidates = list(dict.fromkeys([name, name.replace("\\", "/")]))
    for candidate in candidates:
        if candidate in by_rel:
            return by_rel[candidate]
    for candidate in candidates:
        rows = by_name.get(Path(candidate).name, [])
        if len(rows) == 1:
            return rows[0]
        if rows:
            return rows
    return None


def _attach_reports(rows: pd.DataFrame, root: Path, problems: list[Problem]) -> pd.DataFrame:
    """Merge a folder's reports.csv (filename,report[,patient_id]); filename = path under root or unique name."""
    path = root / REPORTS_FILE
    table = read_table(path, problems, ("filename", "report"))
    if table is None:
        return rows
    by_rel = {r: i for i, r in enumerate(rows["relative"])}
    by_name: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows["relative"]):
        by_name[Path(r).name].append(i)
    seen: dict[int, int] = {}
    unmatched = []
    for line, rec in enumerate(table.to_dict("records"), start=2):
        name = rec["filename"].strip()
        idx = _match_report(name, by_rel, by_name)
        if idx is None:
            unmatched.append(name)
            continue
        if isinstance(idx, list):
            problems.append(
                Problem(
                    "bad input",
                    f"{display_path(path)} line {line}",
                    f"'{name}' matches several images; use the path under the folder, e.g. "
                    f"'{rows['relative'].iloc[idx[0]]}'",
                )
            )
            continue
        if idx in seen:
            problems.append(
                Problem(
                    "bad input",
                    f"{display_path(path)} line {line}",
                    f"second report for '{rows['relative'].iloc[idx]}' (first on line {seen[idx]})",
                )
            )
            continue
        seen[idx] = line
        rows.iloc[idx, rows.columns.get_loc("report")] = rec["report"]
        if rec.get("patient_id", "").strip():
            rows.iloc[idx, rows.columns.get_loc("patient_id")] = rec["patient_id"].strip()
    if unmatched:
        log.warning(
            "%s: %d row(s) name no image under %s and were not used, e.g. %s",
            display_path(path),
            len(unmatched),
            display_path(root),
            unmatched[:5],
        )
    return rows


@dataclass
class FolderListing:
    """What a folder source holds: images per class folder, everything else it ignores or refuses."""

    images: list[tuple[Path, str]]  # (file, class), sorted by path
    skipped: list[Path]  # non-image files
    problems: list[Problem]  # images outside class folders, folders of unknown classes
    reports: Path | None  # reports.csv beside the class folders


def list_folder(root: str | Path) -> FolderListing:
    """Walk a folder source (one sub-folder per class, nested folders allowed): the single definition of which
    files are its images, used by scan_folder and by the workflow to make the listing the manifest's input."""
    root = Path(root)
    if not root.is_dir():
        raise IngestError(
            f"folder {display_path(root)}",
            [Problem("bad input", display_path(root), "is not a directory (check data.path)")],
        )
    listing = FolderListing([], [], [], root / REPORTS_FILE if (root / REPORTS_FILE).is_file() else None)
    for entry in sorted(root.iterdir()):
        if _is_ignored(entry) or entry.name == REPORTS_FILE:
            continue
        if entry.is_file():
            if entry.suffix.lower() in IMAGE_EXTENSIONS:
                listing.problems.append(Problem("image outside class folder", display_path(entry)))
            else:
                listing.skipped.append(entry)
            continue
        label = normalize_label(entry.name)
        if label is None:
            listing.problems.append(
                Problem("unknown label", display_path(entry) + "/", "folder name is not a known class")
            )
            continue
        for f in sorted(p for p in entry.rglob("*") if p.is_file()):
            if any(
                _is_ignored(part) for part in f.relative_to(root).parents if part != Path(".")
            ) or _is_ignored(f):
                continue
            if f.suffix.lower() not in IMAGE_EXTENSIONS:
                listing.skipped.append(f)
                continue
            listing.images.append((f, label))
    return listing


def folder_inputs(root: str | Path) -> list[str]:
    """Files a folder source's manifest is built from (its images and reports.csv): as a rule's input, adding,
    removing or changing one of them reruns the manifest. A missing root is returned as is, so that Snakemake
    names it as the missing input."""
    if not Path(root).is_dir():
        return [str(root)]
    listing = list_folder(root)
    files = [f for f, _ in listing.images] + ([listing.reports] if listing.reports else [])
    return [str(f) for f in files]


def scan_folder(root: str | Path, problems: list[Problem]) -> pd.DataFrame:
    """Rows for a folder tree with one sub-folder per class (nested folders allowed) and optional reports.csv."""
    root = Path(root)
    listing = list_folder(root)
    problems += listing.problems
    records = [
        {
            "relative": f.relative_to(root).as_posix(),
            "file": f,
            "where": display_path(f),
            "label": label,
            "patient_id": "",
            "report": "",
        }
        for f, label in listing.images
    ]
    if listing.skipped:
        log.warning(
            "ignored %d non-image file(s) under %s, e.g. %s",
            len(listing.skipped),
            display_path(root),
            [display_path(p) for p in listing.skipped[:5]],
        )
    rows = pd.DataFrame(records, columns=["relative", "file", "where", "label", "patient_id", "report"])
    if listing.reports is not None:
        rows = _attach_reports(rows, root, problems)
    rows["image_id"] = [image_id_from(r) for r in rows["relative"]]
    return rows
