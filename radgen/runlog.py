"""Send a Snakemake job's logging, warnings, stdout and stderr (tqdm bars included) to its `log:` file."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def job_log(snakemake: Any) -> Iterator[logging.Logger]:
    """Use as `with job_log(snakemake) as log:` at the top of a script adapter.

    Without a `log:` entry (e.g. a script run by hand) output stays on the console.
    """
    logs = list(getattr(snakemake, "log", []) or [])
    logger = logging.getLogger("radgen")
    if not logs:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        yield logger
        return
    path = Path(logs[0])
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", buffering=1) as fh, contextlib.redirect_stdout(fh), contextlib.redirect_stderr(fh):
        handler = logging.StreamHandler(fh)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(logging.INFO)
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
            sys.stdout.flush()
