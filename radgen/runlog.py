"""Send a Snakemake job's logging, warnings, stdout and stderr (tqdm bars included) to its `log:` file.

Warnings of the project's own loggers (`radgen.*`) also reach the console, because a warning that bears on the
validity of a result (no patient ids, a class missing from a fold) must not hide in a log file nobody opens.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

FILE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _Collector(logging.Handler):
    """Keeps the text of every record it sees (at WARNING and above)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def collect_warnings(name: str = "radgen") -> Iterator[list[str]]:
    """Yield a list that fills with the messages of WARNING (and worse) records of logger `name` and its
    children while the block runs, e.g. to write them into a job's warnings file."""
    collector = _Collector()
    logger = logging.getLogger(name)
    logger.addHandler(collector)
    try:
        yield collector.messages
    finally:
        logger.removeHandler(collector)


def _console_handler(stream: Any, rule: str) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.WARNING)
    where = f" (rule {rule})" if rule else ""
    handler.setFormatter(logging.Formatter(f"%(levelname)s{where} %(name)s: %(message)s"))
    return handler


@contextlib.contextmanager
def job_log(snakemake: Any) -> Iterator[logging.Logger]:
    """Use as `with job_log(snakemake) as log:` at the top of a script adapter.

    Without a `log:` entry (e.g. a script run by hand) output stays on the console. With one, everything goes
    to the log file and the `radgen` loggers' warnings and errors are also printed on the console (stderr).
    """
    logs = list(getattr(snakemake, "log", []) or [])
    logger = logging.getLogger("radgen")
    if not logs:
        logging.basicConfig(level=logging.INFO, format=FILE_FORMAT)
        yield logger
        return
    path = Path(logs[0])
    path.parent.mkdir(parents=True, exist_ok=True)
    console = _console_handler(sys.stderr, str(getattr(snakemake, "rule", "") or ""))
    with open(path, "w", buffering=1) as fh, contextlib.redirect_stdout(fh), contextlib.redirect_stderr(fh):
        handler = logging.StreamHandler(fh)
        handler.setFormatter(logging.Formatter(FILE_FORMAT))
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        logger.addHandler(console)
        logging.captureWarnings(True)
        for noisy in ("fontTools", "matplotlib", "PIL"):  # PDF font subsetting logs every table at INFO
            logging.getLogger(noisy).setLevel(logging.WARNING)
        try:
            yield logger
        except BaseException:
            logger.exception("job failed")
            raise
        finally:
            root.removeHandler(handler)
            logger.removeHandler(console)
            sys.stdout.flush()
