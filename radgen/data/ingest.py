"""Build and validate the manifest (image_id,path,label,patient_id,report) from synthetic, folder or csv sources.

Bad input is collected, never skipped: every offending file or row goes into one `IngestError` that says what
is wrong and what to do, and the manifest is written (atomically) only when there is nothing to report.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from radgen.constants import CLASSES, MANIFEST_COLUMNS
from radgen.io import write_manifest

from .folder import folder_inputs, scan_folder
from .images import ImageReadError, pixel_hash, read_gray
from .problems import IngestError, Problem, display_path, image_id_from, normalize_label, read_table

__all__ = [  # folder_inputs, image_id_from, normalize_label: re-exported for data.smk and the tests
    "IngestError",
    "build_manifest",
    "check_manifest",
    "folder_inputs",
    "image_id_from",
    "ingest",
    "normalize_label",
    "reports_required",
    "scan_csv",
    "validate_rows",
]

log = logging.getLogger(__name__)


def scan_csv(csv_path: str | Path, problems: list[Problem]) -> pd.DataFrame:
    """Rows for a user manifest with path,label[,report][,patient_id][,image_id]; paths relative to the CSV."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise IngestError(
            f"csv {display_path(csv_path)}",
            [Problem("bad input", display_path(csv_path), "file not found (check data.path)")],
        )
    table = read_table(csv_path, problems, ("path", "label"))
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
    """The `data:` config block -> validated manifest at out_csv (synthetic PNGs go to images_dir); keys
    missing from data.synthetic take the schema's defaults."""
    source = data.get("source", "synthetic")
    if source == "synthetic":
        from radgen.config import deep_merge, schema_defaults

        from .synthetic import generate_synthetic

        syn = deep_merge(schema_defaults()["data"]["synthetic"], data.get("synthetic"))
        manifest = generate_synthetic(
            images_dir,
            n_images=int(syn["n_images"]),
            image_size=int(syn["image_size"]),
            seed=int(syn["seed"]),
            proportions=syn["proportions"],
            repeat_study_fraction=float(syn["repeat_study_fraction"]),
            n_jobs=n_jobs,
            label_noise=float(syn["label_noise"]),
            report_omission=float(syn["report_omission"]),
        )
        check_manifest(manifest, require_reports=require_reports, n_jobs=n_jobs)
    else:
        if not data.get("path"):
            raise ValueError(f"data.path is required for data.source: {source}")
        manifest = ingest(source, data["path"], require_reports=require_reports, n_jobs=n_jobs)
    write_manifest(manifest, out_csv)
    return manifest
