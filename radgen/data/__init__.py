"""Data stage: synthetic films, ingestion and validation, patient-grouped folds, and the decoded image cache."""
