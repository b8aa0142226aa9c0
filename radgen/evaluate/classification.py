"""Classification statistics of the evaluation stage, one import for callers (tests, summary, paper).

The code lives in modules with one job each: radgen.evaluate.metrics (metrics of one prediction set),
radgen.evaluate.bootstrap (stratified / patient-cluster bootstrap), radgen.evaluate.delong (classic and
clustered DeLong) and radgen.evaluate.comparisons (variants vs the reference with Holm's correction).
Repeat studies of one patient are not independent, so every inference takes ``groups`` (patient ids).
"""

from radgen.evaluate.bootstrap import BOOTSTRAP_METRICS, bootstrap_ci, paired_bootstrap_test
from radgen.evaluate.comparisons import (
    ALPHA,
    COMPARISON_COLUMNS,
    FAMILY_CLASS,
    FAMILY_MACRO,
    METHOD_BOOTSTRAP,
    METHOD_DELONG,
    compare_to_reference,
    holm,
    verdict,
)
from radgen.evaluate.delong import clustered_delong_cov, clustered_delong_test, delong_ci, delong_test
from radgen.evaluate.metrics import (
    binary_auc,
    classification_metrics,
    confusion,
    macro_auc,
    per_class_auc,
    predicted_labels,
)

__all__ = [
    "ALPHA",
    "BOOTSTRAP_METRICS",
    "COMPARISON_COLUMNS",
    "FAMILY_CLASS",
    "FAMILY_MACRO",
    "METHOD_BOOTSTRAP",
    "METHOD_DELONG",
    "binary_auc",
    "bootstrap_ci",
    "classification_metrics",
    "clustered_delong_cov",
    "clustered_delong_test",
    "compare_to_reference",
    "confusion",
    "delong_ci",
    "delong_test",
    "holm",
    "macro_auc",
    "paired_bootstrap_test",
    "per_class_auc",
    "predicted_labels",
    "verdict",
]
