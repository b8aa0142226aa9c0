"""Evaluation: classification statistics, report metrics, clinical efficacy, fold/summary files, figures."""
