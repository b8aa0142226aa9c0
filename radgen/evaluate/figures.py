"""Paper figures from pooled out-of-fold predictions and training logs: PDF for the paper, PNG for people.

Figures (``results/figures/{name}.pdf`` and ``.png``, names in :data:`FIGURE_NAMES`):

- ``roc_curves``: one-vs-rest ROC curve per class, the reference variant (RadGen) against the compared variants,
  AUC in the legend;
- ``confusion_matrix``: the reference variant's pooled confusion matrix, counts and row percentages;
- ``training_curves``: training losses, inner-validation macro-AUC and learning rates per epoch of the
  reference variant, one line per fold (columns missing from a log are skipped);
- ``calibration``: reliability diagram per class (one-vs-rest), reference and compared variants, with the
  expected calibration error, and the reference's histogram of predicted probabilities;
- ``qualitative_examples``: a page of examples of the reference variant: for each class the most confident
  correct case ("best") and the most confident wrong one ("worst"), with the image, reference report,
  generated report and probabilities.
"""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402 - backend first
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import NullFormatter  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402

from radgen.constants import CLASSES, PROB_COLUMNS  # noqa: E402
from radgen.evaluate.classification import binary_auc, confusion  # noqa: E402
from radgen.evaluate.io import atomic_write, labels_to_index  # noqa: E402

__all__ = [
    "FIGURE_NAMES",
    "make_figures",
    "plot_calibration",
    "plot_confusion",
    "plot_qualitative",
    "plot_roc",
    "plot_training_curves",
    "read_train_logs",
    "save_figure",
]

log = logging.getLogger(__name__)

FIGURE_NAMES: tuple[str, ...] = (
    "roc_curves",
    "confusion_matrix",
    "training_curves",
    "calibration",
    "qualitative_examples",
)
CLASS_TITLES = {"normal": "Normal", "pneumonia": "Pneumonia", "tb": "Tuberculosis"}
SHORT_TITLES = {"normal": "Normal", "pneumonia": "Pneumonia", "tb": "TB"}
_PALETTE = plt.get_cmap("tab10").colors

plt.rcParams.update(
    {
        "pdf.fonttype": 42,  # embed TrueType: editable text, accepted by publishers
        "font.size": 9,
        "axes.titlesize": 10,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "legend.frameon": False,
        "legend.fontsize": 7.5,
    }
)


def save_figure(fig: Figure, out_dir: str | Path, name: str, dpi: int = 150) -> list[Path]:
    """Write ``name.pdf`` and ``name.png`` atomically and close the figure."""
    out_dir = Path(out_dir)
    paths = []
    for ext in ("pdf", "png"):
        target = out_dir / f"{name}.{ext}"
        atomic_write(target, lambda p, ext=ext: fig.savefig(p, format=ext, dpi=dpi, bbox_inches="tight"))
        paths.append(target)
    plt.close(fig)
    return paths


def _literal(text: Any) -> str:
    """Text that matplotlib prints as written: an unescaped '$' pair would start mathtext (a label such as
    'cost $5 and $10' loses its dollars, an invalid one such as '$x^$' crashes the figure)."""
    return str(text).replace("$", r"\$")


def _label(labels: Mapping[str, str], variant: str) -> str:
    """A variant's display label (its name when it has none), escaped for matplotlib."""
    return _literal(labels.get(variant, variant))


def _style(variant: str, index: int, reference: str) -> dict[str, Any]:
    if variant == reference:
        return {"color": "black", "lw": 2.2, "zorder": 5}
    return {"color": _PALETTE[index % len(_PALETTE)], "lw": 1.1, "alpha": 0.9, "zorder": 3}


def _ordered(pooled: Mapping[str, pd.DataFrame], reference: str, variants: Sequence[str] | None) -> list[str]:
    chosen = [v for v in (variants or list(pooled)) if v in pooled]
    missing = [v for v in (variants or []) if v not in pooled]
    if missing:
        log.warning("figures: no predictions for %s; left out", missing)
    if reference in pooled and reference not in chosen:
        chosen.insert(0, reference)
    return [reference, *[v for v in chosen if v != reference]] if reference in chosen else chosen


def _xy(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    return labels_to_index(df["label"]), df[list(PROB_COLUMNS)].to_numpy(float)


def _empty(message: str, size: tuple[float, float] = (6.0, 2.0)) -> Figure:
    """A placeholder page, so every declared output exists and says why it is empty."""
    fig = plt.figure(figsize=size)
    fig.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    return fig


def plot_roc(
    pooled: Mapping[str, pd.DataFrame],
    reference: str = "radgen",
    variants: Sequence[str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> Figure:
    """ROC curves per class (one-vs-rest), one line per variant."""
    order = _ordered(pooled, reference, variants)
    if not order:
        return _empty("No predictions to draw ROC curves from.")
    labels = labels or {}
    fig, axes = plt.subplots(1, len(CLASSES), figsize=(11, 3.9), sharey=True)
    for k, (ax, cls) in enumerate(zip(axes, CLASSES, strict=True)):
        ax.plot([0, 1], [0, 1], ls=":", color="0.6", lw=0.8)
        for i, variant in enumerate(order):
            y, p = _xy(pooled[variant])
            if (y == k).all() or not (y == k).any():
                continue
            fpr, tpr, _ = roc_curve(y == k, p[:, k])
            auc = binary_auc(y == k, p[:, k])
            ax.plot(fpr, tpr, label=f"{_label(labels, variant)} ({auc:.3f})", **_style(variant, i, reference))
        ax.set_title(f"{CLASS_TITLES.get(cls, cls)} vs rest")
        ax.set_xlabel("False positive rate (1 - specificity)")
        ax.set_xlim(-0.01, 1.01)
        ax.set_ylim(-0.01, 1.01)
        ax.set_aspect("equal")
        ax.legend(loc="lower right", title="AUC", title_fontsize=7.5)
    axes[0].set_ylabel("True positive rate (sensitivity)")
    fig.tight_layout()
    return fig


def plot_confusion(df: pd.DataFrame, title: str = "") -> Figure:
    """Pooled confusion matrix: counts with row percentages (recall of each true class)."""
    y, p = _xy(df)
    cm = confusion(y, p)
    row = cm.sum(axis=1, keepdims=True)
    frac = np.divide(cm, row, out=np.zeros_like(cm, dtype=float), where=row > 0)
    fig, ax = plt.subplots(figsize=(4.4, 3.9))
    image = ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    names = [SHORT_TITLES.get(c, c) for c in CLASSES]
    ax.set_xticks(range(len(CLASSES)), names)
    ax.set_yticks(range(len(CLASSES)), names)
    ax.set_xlabel("Predicted class")
    ax.set_ylabel("True class")
    for spine in ax.spines.values():
        spine.set_visible(False)
    for i in range(len(CLASSES)):
        for j in range(len(CLASSES)):
            color = "white" if frac[i, j] > 0.6 else "black"
            ax.text(
                j,
                i,
                f"{cm[i, j]}\n{100 * frac[i, j]:.1f}%",
                ha="center",
                va="center",
                color=color,
                fontsize=9,
            )
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="Fraction of true class")
    ax.set_title(title or f"Confusion matrix (n = {int(cm.sum())})")
    fig.tight_layout()
    return fig


def read_train_logs(paths: Mapping[Any, str | Path] | Sequence[str | Path]) -> dict[str, pd.DataFrame]:
    """Training logs keyed by fold name; unreadable or missing files are skipped with a warning."""
    items = paths.items() if isinstance(paths, Mapping) else ((Path(p).parent.name, p) for p in paths)
    logs = {}
    for key, path in items:
        try:
            df = pd.read_csv(path)
        except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            log.warning("figures: training log %s unreadable (%s); skipped", path, exc)
            continue
        if "epoch" not in df.columns:
            df = df.assign(epoch=np.arange(len(df)))
        logs[str(key)] = df
    return logs


def plot_training_curves(logs: Mapping[str, pd.DataFrame], title: str = "") -> Figure:
    """Per-epoch curves of each fold: losses, inner-validation macro-AUC and learning rates when logged."""
    if not logs:
        return _empty("No training log found.")
    columns = set().union(*(df.columns for df in logs.values()))
    loss_cols = [c for c in ("train_loss", "train_loss_cls", "train_loss_report") if c in columns]
    lr_cols = sorted(c for c in columns if c.startswith("lr_"))
    panels = [
        p for p, ok in (("loss", loss_cols), ("auc", "val_macro_auc" in columns), ("lr", lr_cols)) if ok
    ]
    if not panels:
        return _empty("Training logs have none of train_loss*, val_macro_auc, lr_* columns.")
    fig, axes = plt.subplots(1, len(panels), figsize=(3.8 * len(panels), 3.3), squeeze=False)
    axes = dict(zip(panels, axes[0], strict=True))
    dashes = {"train_loss": "-", "train_loss_cls": "--", "train_loss_report": ":"}
    for i, (fold, df) in enumerate(sorted(logs.items())):
        color = _PALETTE[i % len(_PALETTE)]
        x = df["epoch"].to_numpy()
        if "loss" in axes:
            for c in loss_cols:
                if c in df:
                    axes["loss"].plot(x, df[c], ls=dashes[c], color=color, lw=1.2)
        if "auc" in axes and "val_macro_auc" in df:
            auc = pd.to_numeric(df["val_macro_auc"], errors="coerce")
            axes["auc"].plot(x, auc, color=color, lw=1.2, marker="o", ms=2.5, label=fold)
            if auc.notna().any():
                best = int(np.nanargmax(auc.to_numpy()))
                axes["auc"].plot(x[best], auc.iloc[best], marker="*", ms=9, color=color, zorder=5)
        if "lr" in axes:
            for j, c in enumerate(lr_cols):
                if c in df:
                    axes["lr"].plot(
                        x,
                        pd.to_numeric(df[c], errors="coerce").where(lambda v: v > 0),  # 0 = frozen: a gap
                        color=_PALETTE[j % len(_PALETTE)],
                        lw=1.0,
                        alpha=0.6,
                        label=c.removeprefix("lr_") if i == 0 else None,
                    )
    if "loss" in axes:
        ax = axes["loss"]
        ax.set_title("Training loss")
        ax.set_ylabel("loss")
        for c in loss_cols:
            ax.plot(
                [],
                [],
                ls=dashes[c],
                color="0.3",
                label=c.replace("train_loss", "total").replace("total_", ""),
            )
        ax.legend()
    if "auc" in axes:
        ax = axes["auc"]
        ax.set_title("Inner-validation macro-AUC (★ best)")
        ax.set_ylabel("macro-AUC")
        ax.legend(title="fold", ncol=2)
    if "lr" in axes:
        ax = axes["lr"]
        ax.set_title("Learning rates")
        ax.set_yscale("log")
        ax.legend()
    for ax in axes.values():
        ax.set_xlabel("epoch")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def reliability(
    y_binary: np.ndarray, prob: np.ndarray, n_bins: int = 10
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Uniform-bin reliability curve: mean predicted, observed frequency, count per bin, and the ECE."""
    bins = np.clip((prob * n_bins).astype(int), 0, n_bins - 1)
    count = np.bincount(bins, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.bincount(bins, weights=prob, minlength=n_bins) / count
        freq = np.bincount(bins, weights=y_binary.astype(float), minlength=n_bins) / count
    filled = count > 0
    ece = float(np.sum(count[filled] * np.abs(freq[filled] - mean_p[filled])) / max(count.sum(), 1))
    return mean_p, freq, count, ece


def plot_calibration(
    pooled: Mapping[str, pd.DataFrame],
    reference: str = "radgen",
    variants: Sequence[str] | None = None,
    labels: Mapping[str, str] | None = None,
    n_bins: int = 10,
) -> Figure:
    """Reliability diagram per class with ECE; the reference's probability histogram underneath."""
    order = _ordered(pooled, reference, variants)
    if not order:
        return _empty("No predictions to draw a reliability diagram from.")
    labels = labels or {}
    n = len(CLASSES)
    fig = plt.figure(figsize=(12.5, 4.9))
    grid = fig.add_gridspec(2, n + 1, height_ratios=[3.2, 1], width_ratios=[1] * n + [0.75])
    axes = np.array([[fig.add_subplot(grid[r, k]) for k in range(n)] for r in range(2)])
    eces: dict[str, list[float]] = {v: [] for v in order}
    handles = {}
    for k, cls in enumerate(CLASSES):
        ax, hist = axes[0, k], axes[1, k]
        ax.plot([0, 1], [0, 1], ls=":", color="0.6", lw=0.8)
        for i, variant in enumerate(order):
            y, p = _xy(pooled[variant])
            mean_p, freq, count, ece = reliability(y == k, p[:, k], n_bins)
            eces[variant].append(ece)
            keep = count > 0
            (handles[variant],) = ax.plot(
                mean_p[keep], freq[keep], marker="o", ms=3, **_style(variant, i, reference)
            )
            if variant == reference:
                hist.bar((np.arange(n_bins) + 0.5) / n_bins, count, width=0.9 / n_bins, color="0.35")
        ax.set_title(f"{CLASS_TITLES.get(cls, cls)} vs rest")
        ax.set_xlim(0, 1)
        ax.set_ylim(-0.02, 1.02)
        ax.tick_params(labelbottom=False)
        hist.set_xlim(0, 1)
        hist.set_xlabel(f"Predicted P({CLASS_TITLES.get(cls, cls)})")
        hist.set_yscale("log")
        hist.yaxis.set_minor_formatter(NullFormatter())
    axes[0, 0].set_ylabel("Observed frequency")
    axes[1, 0].set_ylabel(f"{_label(labels, reference)}\ncount")
    # one legend beside the panels (curves can run anywhere inside them), with the ECE of each class
    side = fig.add_subplot(grid[:, n])
    side.axis("off")
    side.legend(
        [handles[v] for v in order],
        [f"{_label(labels, v)}\n{' / '.join(f'{e:.3f}' for e in eces[v])}" for v in order],
        loc="center left",
        title="ECE (" + " / ".join(SHORT_TITLES.get(c, c) for c in CLASSES) + ")",
        title_fontsize=7.5,
        labelspacing=0.9,
    )
    fig.tight_layout()
    return fig


def _pick_examples(df: pd.DataFrame, n_per_kind: int = 1) -> list[tuple[str, pd.Series]]:
    """Best (most confident correct) and worst (most confident wrong) case of each true class."""
    y, p = _xy(df)
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


def plot_qualitative(
    df: pd.DataFrame,
    manifest: pd.DataFrame | None,
    title: str = "",
    base_dir: str | Path | None = None,
    n_per_kind: int = 1,
) -> Figure:
    """A page of best and worst cases: image, reference report, generated report, probabilities."""
    if df.empty:
        return _empty("No predictions for qualitative examples.")
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
        ax_img = fig.add_subplot(grid[r, 0])
        if image is not None:
            ax_img.imshow(image, cmap="gray", vmin=0, vmax=255)
        else:
            ax_img.text(0.5, 0.5, "image\nunavailable", ha="center", va="center", fontsize=7, color="0.4")
        ax_img.set_xticks([])
        ax_img.set_yticks([])
        for spine in ax_img.spines.values():
            spine.set_visible(True)
            spine.set_color("#2e7d32" if kind == "best" else "#c62828")
            spine.set_linewidth(2)
        probs = row[list(PROB_COLUMNS)].to_numpy(float)
        true_k = int(labels_to_index([row["label"]])[0])
        pred_k = int(probs.argmax())
        head = (
            f"{kind.upper()}  ·  {_literal(row['image_id'])}  ·  true: {CLASS_TITLES[CLASSES[true_k]]}  ·  "
            f"predicted: {CLASS_TITLES[CLASSES[pred_k]]}"
        )
        prob_text = "   ".join(f"P({CLASS_TITLES[c]}) = {v:.2f}" for c, v in zip(CLASSES, probs, strict=True))
        reference = meta["report"] if meta is not None and "report" in meta else ""
        ax_txt = fig.add_subplot(grid[r, 1])
        ax_txt.axis("off")
        ax_txt.text(
            0.0,
            1.0,
            head,
            fontsize=8,
            fontweight="bold",
            va="top",
            color="#2e7d32" if kind == "best" else "#c62828",
            transform=ax_txt.transAxes,
        )
        ax_txt.text(0.0, 0.83, prob_text, fontsize=7.5, va="top", transform=ax_txt.transAxes)
        ax_txt.text(
            0.0,
            0.66,
            "Reference: " + _literal(_wrap(reference)),
            fontsize=7,
            va="top",
            transform=ax_txt.transAxes,
            linespacing=1.15,
        )
        ax_txt.text(
            0.0,
            0.30,
            "Generated: " + _literal(_wrap(row.get("report_generated", ""))),
            fontsize=7,
            va="top",
            transform=ax_txt.transAxes,
            linespacing=1.15,
            color="#1a237e",
        )
    if title:
        fig.suptitle(title, y=1 - 0.12 / height, fontsize=10)
    return fig


def make_figures(
    pooled: Mapping[str, pd.DataFrame],
    out_dir: str | Path,
    reference: str = "radgen",
    variants: Sequence[str] | None = None,
    labels: Mapping[str, str] | None = None,
    train_logs: Mapping[str, pd.DataFrame] | None = None,
    manifest: pd.DataFrame | None = None,
    base_dir: str | Path | None = None,
) -> list[Path]:
    """Every figure of :data:`FIGURE_NAMES` as PDF and PNG in out_dir; returns the written paths.

    ``variants``: the variants drawn next to the reference in the ROC and calibration figures (default: all
    pooled ones). A figure whose inputs are missing becomes a page saying so, never a missing file.
    """
    labels = dict(labels or {})
    ref_label = _label(labels, reference)
    written: list[Path] = []
    written += save_figure(plot_roc(pooled, reference, variants, labels), out_dir, "roc_curves")
    if reference in pooled:
        cm_fig = plot_confusion(pooled[reference], title=f"{ref_label}: pooled out-of-fold confusion matrix")
        qual_fig = plot_qualitative(
            pooled[reference], manifest, title=f"{ref_label}: best and worst cases", base_dir=base_dir
        )
    else:
        cm_fig = _empty(f"No predictions of {ref_label}.")
        qual_fig = _empty(f"No predictions of {ref_label}.")
    written += save_figure(cm_fig, out_dir, "confusion_matrix")
    written += save_figure(
        plot_training_curves(train_logs or {}, title=f"{ref_label}: training"), out_dir, "training_curves"
    )
    written += save_figure(plot_calibration(pooled, reference, variants, labels), out_dir, "calibration")
    written += save_figure(qual_fig, out_dir, "qualitative_examples")
    log.info("figures: wrote %d files to %s", len(written), out_dir)
    return written
