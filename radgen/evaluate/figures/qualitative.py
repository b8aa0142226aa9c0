"""A page of the reference variant's best and worst cases: image, reference and generated report, probabilities."""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from radgen.constants import CLASS_NAMES, CLASSES, PROB_COLUMNS
from radgen.evaluate.figures.common import empty, literal, log, xy
from radgen.io import labels_to_index


def _pick_examples(df: pd.DataFrame, n_per_kind: int = 1) -> list[tuple[str, pd.Series]]:
    """Best (most confident correct) and worst (most confident wrong) case of each true class."""
    y, p = xy(df)
    pred = p.argmax(axis=1)
    p_true = p[np.arange(len(y)), y]
    picked: list[tuple[str, pd.Series]] = []
    for kind in ("best", "worst"):
        for k in range(len(CLASSES)):
            members = np.flatnonzero(y == k)
            if kind == "best":
                pool = members[pred[members] == k]
                order = pool[np.argsort(-p_true[pool], kind="stable")]
            else:
                pool = members[pred[members] != k]
                if pool.size:  # the most confidently wrong: largest margin of the wrong class
                    order = pool[np.argsort(p_true[pool] - p[pool, pred[pool]], kind="stable")]
                else:  # nothing wrong in this class: its least confident case
                    order = members[np.argsort(p_true[members], kind="stable")]
            picked.extend((kind, df.iloc[i]) for i in order[:n_per_kind])
    return picked


def _load_image(path: str | Path | None, base_dir: str | Path | None) -> np.ndarray | None:
    if not path:
        return None
    from PIL import Image

    candidate = Path(path)
    if not candidate.is_absolute() and base_dir is not None and not candidate.exists():
        candidate = Path(base_dir) / candidate
    try:
        with Image.open(candidate) as im:
            if im.mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # 16-bit / float: stretch, don't clip
                arr = np.asarray(im, dtype=np.float64)
                low, high = np.percentile(arr, [0.5, 99.5])
                return np.clip((arr - low) / max(high - low, 1e-9) * 255, 0, 255).astype(np.uint8)
            return np.asarray(im.convert("L"))
    except (OSError, ValueError) as exc:
        log.warning("figures: image %s unreadable (%s)", candidate, exc)
        return None


def _wrap(text: str, width: int = 88, max_lines: int = 5) -> str:
    text = " ".join(str(text or "").split()) or "(none)"
    lines = textwrap.wrap(text, width=width)
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], lines[max_lines - 1][: width - 4] + " ..."]
    return "\n".join(lines)


_COLOUR = {"best": "#2e7d32", "worst": "#c62828"}


def _draw_image(ax: Axes, image: np.ndarray | None, kind: str) -> None:
    """The film, framed green (best) or red (worst); a note when it cannot be read."""
    if image is not None:
        ax.imshow(image, cmap="gray", vmin=0, vmax=255)
    else:
        ax.text(0.5, 0.5, "image\nunavailable", ha="center", va="center", fontsize=7, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(True)
        spine.set_color(_COLOUR[kind])
        spine.set_linewidth(2)


def _draw_text(ax: Axes, kind: str, row: pd.Series, reference: str) -> None:
    """Header (kind, id, true and predicted class), probabilities, reference and generated report."""
    probs = row[list(PROB_COLUMNS)].to_numpy(float)
    true_k = int(labels_to_index([row["label"]])[0])
    pred_k = int(probs.argmax())
    head = (
        f"{kind.upper()}  ·  {literal(row['image_id'])}  ·  true: {CLASS_NAMES[CLASSES[true_k]]}  ·  "
        f"predicted: {CLASS_NAMES[CLASSES[pred_k]]}"
    )
    prob_text = "   ".join(f"P({CLASS_NAMES[c]}) = {v:.2f}" for c, v in zip(CLASSES, probs, strict=True))
    ax.axis("off")
    at = {"va": "top", "transform": ax.transAxes}
    ax.text(0.0, 1.0, head, fontsize=8, fontweight="bold", color=_COLOUR[kind], **at)
    ax.text(0.0, 0.83, prob_text, fontsize=7.5, **at)
    ax.text(0.0, 0.66, "Reference: " + literal(_wrap(reference)), fontsize=7, linespacing=1.15, **at)
    generated = "Generated: " + literal(_wrap(row.get("report_generated", "")))
    ax.text(0.0, 0.30, generated, fontsize=7, linespacing=1.15, color="#1a237e", **at)


def plot_qualitative(
    df: pd.DataFrame,
    manifest: pd.DataFrame | None,
    title: str = "",
    base_dir: str | Path | None = None,
    n_per_kind: int = 1,
) -> Figure:
    """A page of best and worst cases: image, reference report, generated report, probabilities."""
    if df.empty:
        return empty("No predictions for qualitative examples.")
    examples = _pick_examples(df, n_per_kind)
    info = manifest.set_index("image_id") if manifest is not None else None
    fig = plt.figure(figsize=(8.27, 1.75 * len(examples) + 0.5))
    height = fig.get_figheight()
    grid = fig.add_gridspec(
        len(examples),
        2,
        width_ratios=[1, 4.6],
        hspace=0.25,
        wspace=0.04,
        left=0.02,
        right=0.98,
        bottom=0.1 / height,
        top=1 - 0.45 / height,
    )
    for r, (kind, row) in enumerate(examples):
        meta = info.loc[row["image_id"]] if info is not None and row["image_id"] in info.index else None
        image = _load_image(meta["path"] if meta is not None and "path" in meta else None, base_dir)
        _draw_image(fig.add_subplot(grid[r, 0]), image, kind)
        reference = meta["report"] if meta is not None and "report" in meta else ""
        _draw_text(fig.add_subplot(grid[r, 1]), kind, row, reference)
    if title:
        fig.suptitle(title, y=1 - 0.12 / height, fontsize=10)
    return fig
