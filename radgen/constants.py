"""Names shared by every stage, so that column order never drifts between modules."""

CLASSES: tuple[str, ...] = ("normal", "pneumonia", "tb")
PROB_COLUMNS: tuple[str, ...] = tuple(f"p_{c}" for c in CLASSES)
PREDICTION_COLUMNS: tuple[str, ...] = ("image_id", "label", *PROB_COLUMNS, "report_generated")
MANIFEST_COLUMNS: tuple[str, ...] = ("image_id", "path", "label", "patient_id", "report")
FOLD_COLUMNS: tuple[str, ...] = ("image_id", "fold", "inner")
