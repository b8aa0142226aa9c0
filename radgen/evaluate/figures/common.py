"""What every figure shares: matplotlib settings, saving, variant order, line styles and placeholders."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402 - backend first
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from radgen.constants import PROB_COLUMNS  # noqa: E402
from radgen.io import atomic_path, labels_to_index  # noqa: E402

log = logging.getLogger("radgen.evaluate.figures")

PALETTE = plt.get_cmap("tab10").colors

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
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=ext, dpi=dpi, bbox_inches="tight")
        paths.append(target)
    plt.close(fig)
    return paths


def literal(text: Any) -> str:
    """Text that matplotlib prints as written: an unescaped '$' pair would start mathtext (a label such as
    'cost $5 and $10' loses its dollars, an invalid one such as '$x^$' crashes the figure)."""
    return str(text).replace("$", r"\$")


def variant_label(labels: Mapping[str, str], variant: str) -> str:
    """A variant's display label (its name when it has none), escaped for matplotlib."""
    return literal(labels.get(variant, variant))


def line_style(variant: str, index: int, reference: str) -> dict[str, Any]:
    """The reference drawn thick and black on top; the others in palette colours."""
    if variant == reference:
        return {"color": "black", "lw": 2.2, "zorder": 5}
    return {"color": PALETTE[index % len(PALETTE)], "lw": 1.1, "alpha": 0.9, "zorder": 3}


def ordered(pooled: Mapping[str, pd.DataFrame], reference: str, variants: Sequence[str] | None) -> list[str]:
    """Variants to draw, reference first; asked-for variants without predictions are logged and skipped."""
    chosen = [v for v in (variants or list(pooled)) if v in pooled]
    missing = [v for v in (variants or []) if v not in pooled]
    if missing:
        log.warning("figures: no predictions for %s; left out", missing)
    if reference in pooled and reference not in chosen:
        chosen.insert(0, reference)
    return [reference, *[v for v in chosen if v != reference]] if reference in chosen else chosen


def xy(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Class indices and the [n, C] probability matrix of a predictions table."""
    return labels_to_index(df["label"]), df[list(PROB_COLUMNS)].to_numpy(float)


def empty(message: str, size: tuple[float, float] = (6.0, 2.0)) -> Figure:
    """A placeholder page, so every declared output exists and says why it is empty."""
    fig = plt.figure(figsize=size)
    fig.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    return fig
