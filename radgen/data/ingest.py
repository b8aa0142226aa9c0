"""Build and validate the manifest (image_id,path,label,patient_id,report) from synthetic, folder or csv sources.

Bad input is collected, never skipped: every offending file or row goes into one `IngestError` that says what
is wrong and what to do, and the manifest is written (atomically) only when there is nothing to report.
"""

from __future__ import annotations

import logging
import os
import re
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from radgen.constants import CLASSES, MANIFEST_COLUMNS
from radgen.io import write_manifest

from .images import IMAGE_EXTENSIONS, ImageReadError, pixel_hash, read_gray

log = logging.getLogger(__name__)

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
REPORTS_FILE = "reports.csv"
_IGNORED_NAMES = {"thumbs.db", "desktop.ini", "__macosx"}


@dataclass(frozen=True)
class Problem:
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


def _is_ignored(path: Path) -> bool:
    return path.name.startswith(".") or path.name.lower() in _IGNORED_NAMES


def _read_table(path: Path, problems: list[Problem], required: Iterable[str]) -> pd.DataFrame | None:
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
    table = _read_table(path, problems, ("filename", "report"))
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


def scan_csv(csv_path: str | Path, problems: list[Problem]) -> pd.DataFrame:
    """Rows for a user manifest with path,label[,report][,patient_id][,image_id]; paths relative to the CSV."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise IngestError(
            f"csv {display_path(csv_path)}",
            [Problem("bad input", display_path(csv_path), "file not found (check data.path)")],
        )
    table = _read_table(csv_path, problems, ("path", "label"))
    if table is None:
        return pd.DataFrame(
            columns=["relative", "file", "where", "label", "patient_id", "report", "image_id"]
        )
    base = csv_path.parent
    records = []
    for line, rec in enumerate(table.to_dict("records"), start=2):
        where = f"{display_path(csv_path)} line {line}"
        raw = rec["path"].strip()
        if not raw:
            problems.append(Problem("bad input", where, "empty path"))
            continue
        file = Path(raw) if Path(raw).is_absolute() else base / raw
        where = f"{where} ({display_path(file)})"
        label = normalize_label(rec["label"])
        if label is None:
            problems.append(Problem("unknown label", where, f"label '{rec['label']}'"))
            continue
        relative = Path(raw).as_posix() if not Path(raw).is_absolute() else Path(raw).as_posix().lstrip("/")
        records.append(
            {
                "relative": relative,
                "file": file,
                "where": where,
                "label": label,
                "patient_id": rec.get("patient_id", "").strip(),
                "report": rec.get("report", "").strip(),
                "image_id": rec.get("image_id", "").strip() or image_id_from(relative),
            }
        )
    return pd.DataFrame(
        records, columns=["relative", "file", "where", "label", "patient_id", "report", "image_id"]
    )


def _decode(path: Path) -> tuple[str | None, str | None]:
    try:
        return pixel_hash(read_gray(path)), None
    except ImageReadError as exc:
        return None, str(exc).split(": ", 1)[-1]


def _decode_all(files: list[Path], n_jobs: int) -> list[tuple[str | None, str | None]]:
    bar = {"total": len(files), "desc": "checking images", "mininterval": 2}
    if n_jobs > 1 and len(files) > 64:
        with ProcessPoolExecutor(max_workers=n_jobs) as pool:
            return list(tqdm(pool.map(_decode, files, chunksize=max(1, len(files) // (8 * n_jobs))), **bar))
    return [_decode(f) for f in tqdm(files, **bar)]


def validate_rows(
    rows: pd.DataFrame, problems: list[Problem], *, require_reports: bool, n_jobs: int = 1
) -> pd.DataFrame:
    """Checks that need all rows: ids, decodability, pixel duplicates, empty classes, reports."""
    for image_id, group in rows.groupby("image_id", sort=True):
        if len(group) > 1:
            problems.append(Problem("duplicate id", f"id '{image_id}'", "; ".join(group["where"])))
    results = _decode_all(list(rows["file"]), n_jobs)
    hashes = defaultdict(list)
    for (digest, error), where in zip(results, rows["where"], strict=True):
        if error is not None:
            problems.append(Problem("unreadable image", where, error))
        else:
            hashes[digest].append(where)
    for wheres in hashes.values():
        if len(wheres) > 1:
            problems.append(
                Problem("duplicate pixel content", wheres[0], "same pixels as " + "; ".join(wheres[1:]))
            )
    for label in CLASSES:
        if not (rows["label"] == label).any():
            problems.append(Problem("empty class", label, "no images"))
    if require_reports:
        for where in rows.loc[rows["report"].str.strip() == "", "where"]:
            problems.append(Problem("missing report", where))
    missing = rows["patient_id"].str.strip() == ""
    if missing.any():
        log.warning(
            "%d of %d images have no patient_id: each is treated as its own patient (one study per "
            "patient). Folds cannot group repeat studies of a patient without it; add patient ids "
            "(reports.csv or the manifest's patient_id column) to avoid leakage.",
            missing.sum(),
            len(rows),
        )
        rows.loc[missing, "patient_id"] = rows.loc[missing, "image_id"]
    return rows


def ingest(source: str, path: str | Path, *, require_reports: bool = False, n_jobs: int = 1) -> pd.DataFrame:
    """Manifest of a `folder` or `csv` source; raises IngestError listing every problem found."""
    problems: list[Problem] = []
    if source == "folder":
        rows = scan_folder(path, problems)
    elif source == "csv":
        rows = scan_csv(path, problems)
    else:
        raise ValueError(f"unknown data.source {source!r}; use synthetic, folder or csv")
    rows = validate_rows(rows, problems, require_reports=require_reports, n_jobs=n_jobs)
    if problems:
        raise IngestError(f"{source} source {display_path(path)}", problems)
    manifest = pd.DataFrame(
        {
            "image_id": rows["image_id"],
            "path": [display_path(f) for f in rows["file"]],
            "label": rows["label"],
            "patient_id": rows["patient_id"],
            "report": rows["report"],
        },
        columns=list(MANIFEST_COLUMNS),
    ).reset_index(drop=True)
    log.info(
        "%s source %s: %d images, %d patients, classes %s",
        source,
        display_path(path),
        len(manifest),
        manifest["patient_id"].nunique(),
        manifest["label"].value_counts().to_dict(),
    )
    return manifest


def check_manifest(manifest: pd.DataFrame, *, require_reports: bool = False, n_jobs: int = 1) -> pd.DataFrame:
    """Validate an already built manifest (e.g. the synthetic one) with the same rules as user data."""
    rows = manifest.rename(columns={"path": "where"}).assign(file=[Path(p) for p in manifest["path"]])
    problems: list[Problem] = []
    validate_rows(rows, problems, require_reports=require_reports, n_jobs=n_jobs)
    if problems:
        raise IngestError("manifest", problems)
    return manifest


def reports_required(config: dict[str, Any]) -> bool:
    """True when any configured variant trains a report generator or a text encoder (both need reports)."""
    from radgen.variants import resolve_variant

    return any(resolve_variant(config, name).needs_reports for name in config.get("variants") or {})


def build_manifest(
    data: dict[str, Any],
    out_csv: str | Path,
    *,
    images_dir: str | Path = "results/data/synthetic",
    require_reports: bool = False,
    n_jobs: int = 1,
) -> pd.DataFrame:
    """The `data:` config block -> validated manifest at out_csv (synthetic PNGs go to images_dir)."""
    source = data.get("source", "synthetic")
    if source == "synthetic":
        from .synthetic import generate_synthetic

        syn = data.get("synthetic") or {}
        manifest = generate_synthetic(
            images_dir,
            n_images=int(syn.get("n_images", 600)),
            image_size=int(syn.get("image_size", 128)),
            seed=int(syn.get("seed", 0)),
            proportions=syn.get("proportions"),
            repeat_study_fraction=float(syn.get("repeat_study_fraction", 0.35)),
            n_jobs=n_jobs,
            label_noise=float(syn.get("label_noise", 0.03)),
            report_omission=float(syn.get("report_omission", 0.10)),
        )
        check_manifest(manifest, require_reports=require_reports, n_jobs=n_jobs)
    else:
        if not data.get("path"):
            raise ValueError(f"data.path is required for data.source: {source}")
        manifest = ingest(source, data["path"], require_reports=require_reports, n_jobs=n_jobs)
    write_manifest(manifest, out_csv)
    return manifest
