"""Names shared by every stage, so that column order never drifts between modules."""

CLASSES: tuple[str, ...] = ("normal", "pneumonia", "tb")
PROB_COLUMNS: tuple[str, ...] = tuple(f"p_{c}" for c in CLASSES)
PREDICTION_COLUMNS: tuple[str, ...] = ("image_id", "label", *PROB_COLUMNS, "report_generated")
MANIFEST_COLUMNS: tuple[str, ...] = ("image_id", "path", "label", "patient_id", "report")
FOLD_COLUMNS: tuple[str, ...] = ("image_id", "fold", "inner")
#: how a class is named for readers (figure titles, the paper): full and short form.
CLASS_NAMES: dict[str, str] = {"normal": "Normal", "pneumonia": "Pneumonia", "tb": "Tuberculosis"}
CLASS_SHORT_NAMES: dict[str, str] = {"normal": "Normal", "pneumonia": "Pneumonia", "tb": "TB"}
