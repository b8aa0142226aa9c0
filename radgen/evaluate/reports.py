"""Natural-language report metrics: BLEU-1..4, ROUGE-L, CIDEr (and METEOR when Java works).

The scorers are pycocoevalcap's, called as R2Gen calls them (``compute_score({id: [text]}, {id: [text]})``,
no Java PTB tokenizer). They split on whitespace only, so every text goes first through
:func:`clean_report`, the single cleaning step of this module.

METEOR runs ``java -jar meteor-1.5.jar`` with a 2 GB heap and loads a 60 MB paraphrase table (about 6 s
before the first score). It is computed only when a working ``java`` is found; any failure (no Java, JVM
start-up failure, crash, time-out) omits the key with a logged warning instead of a crash or a silent 0.
"""

from __future__ import annotations

import functools
import logging
import math
import shutil
import subprocess
import threading
from collections.abc import Sequence
from typing import Any

from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.meteor.meteor import Meteor
from pycocoevalcap.rouge.rouge import Rouge

from radgen.evaluate.sentences import is_missing
from radgen.evaluate.sentences import sentences as split_sentences

__all__ = ["REPORT_METRICS", "clean_report", "java_available", "radcliq_score", "report_metrics"]

log = logging.getLogger(__name__)

#: keys returned by :func:`report_metrics` (METEOR only when Java works).
REPORT_METRICS: tuple[str, ...] = ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "ROUGE-L", "CIDEr")


def clean_report(text: Any) -> str:
    """Normalise one report the R2Gen way so that whitespace tokenisation is meaningful.

    Steps: lowercase; list numbering ("1. ", "2) ") dropped; decimal points kept inside numbers ("1.5" -> "15",
    as R2Gen's punctuation removal does); text split into sentences at . ! ? ; and line breaks; in each
    sentence every character other than a-z, 0-9 and space is replaced by a space (so "left-sided" gives
    "left sided", "XXXX," gives "xxxx"); empty sentences dropped; sentences joined with " . " and the report
    ends with " ." — e.g. ``"1. No effusion.  2. Heart: normal!"`` -> ``"no effusion . heart normal ."``.
    Missing text (None, NaN) and text without any word give "".
    """
    if is_missing(text):
        return ""
    sentences = split_sentences(str(text), split_at_colon=False, join_apostrophes=False)
    return " . ".join(sentences) + " ." if sentences else ""


@functools.cache
def java_available() -> bool:
    """True when a ``java`` binary exists and starts (checked once per process)."""
    java = shutil.which("java")
    if java is None:
        return False
    try:
        proc = subprocess.run([java, "-version"], capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return proc.returncode == 0


class _ClosableMeteor(Meteor):
    """pycocoevalcap's Meteor with an explicit close: its ``__del__`` blocks forever if a scoring thread died
    holding the lock, which is exactly the failure we must survive."""

    def close(self) -> None:
        proc = self.meteor_p
        try:
            if proc.stdin is not None:
                proc.stdin.close()
        except OSError:
            pass
        proc.kill()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - kill() cannot be ignored
            pass

    def __del__(self) -> None:  # closing is our job (see close)
        pass


def _start_meteor() -> _ClosableMeteor | None:
    """Start the Java scorer (it loads its paraphrase table while Python computes the other metrics)."""
    if not java_available():
        log.warning("METEOR omitted: no working 'java' on PATH (pycocoevalcap runs meteor-1.5.jar with java)")
        return None
    try:
        return _ClosableMeteor()
    except Exception as exc:  # noqa: BLE001 - any start-up failure means "no METEOR", never a crash
        log.warning("METEOR omitted: could not start the Java scorer (%s: %s)", type(exc).__name__, exc)
        return None


def _finish_meteor(
    scorer: _ClosableMeteor, gts: dict[int, list[str]], res: dict[int, list[str]], timeout_s: float
) -> float | None:
    """METEOR score, or None (with a warning saying why) when it cannot be computed; always closes."""
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            result["score"] = float(scorer.compute_score(gts, res)[0])
        except Exception as exc:  # noqa: BLE001 - reported below
            result["error"] = f"{type(exc).__name__}: {exc}"

    worker = threading.Thread(target=work, name="meteor", daemon=True)
    worker.start()
    worker.join(timeout_s)
    timed_out = worker.is_alive()
    scorer.close()  # also unblocks a worker stuck on the pipe
    worker.join(5)
    if timed_out:
        log.warning("METEOR omitted: the Java scorer did not answer within %.0f s", timeout_s)
        return None
    if "error" in result or "score" not in result:
        log.warning("METEOR omitted: the Java scorer failed (%s)", result.get("error", "no result"))
        return None
    if not math.isfinite(result["score"]):
        log.warning("METEOR omitted: the Java scorer returned %r", result["score"])
        return None
    return result["score"]


def _as_reference_list(ref: Any) -> list[str]:
    """One reference or several for one hypothesis, cleaned, empty ones dropped."""
    refs = [ref] if isinstance(ref, str) or ref is None or isinstance(ref, float) else list(ref)
    return [c for c in (clean_report(r) for r in refs) if c]


def report_metrics(
    references: Sequence[str | Sequence[str]],
    hypotheses: Sequence[str],
    meteor: bool | None = None,
    meteor_timeout_s: float = 600.0,
) -> dict[str, float]:
    """Corpus-level BLEU-1..4, ROUGE-L and CIDEr of hypotheses against references (after :func:`clean_report`).

    ``references[i]`` is one string or a list of strings for ``hypotheses[i]``. A hypothesis whose
    references are all empty cannot be scored and is left out (logged); an empty hypothesis is scored (it
    earns 0). CIDEr's document frequencies come from the whole evaluated set, so score a whole fold at once.
    ``meteor``: None = compute when Java works, False = skip, True = also try (a failure is still only
    logged, never raised). Raises ValueError when no pair can be scored.
    """
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references for {len(hypotheses)} hypotheses")
    gts: dict[int, list[str]] = {}
    res: dict[int, list[str]] = {}
    skipped = 0
    for i, (ref, hyp) in enumerate(zip(references, hypotheses, strict=True)):
        refs = _as_reference_list(ref)
        if not refs:
            skipped += 1
            continue
        gts[i] = refs
        res[i] = [clean_report(hyp)]
    if skipped:
        log.warning(
            "report metrics: %d of %d hypotheses have no reference report and are not scored",
            skipped,
            len(hypotheses),
        )
    if not gts:
        raise ValueError("no hypothesis has a non-empty reference report: report metrics are undefined")
    n_empty = sum(1 for v in res.values() if not v[0])
    if n_empty:
        log.info("report metrics: %d of %d hypotheses are empty (scored as such)", n_empty, len(res))

    scorer = _start_meteor() if meteor is not False else None
    try:
        bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
        out = {f"BLEU-{k + 1}": float(b) for k, b in enumerate(bleu)}
        out["ROUGE-L"] = float(Rouge().compute_score(gts, res)[0])
        if len(gts) < 2:
            log.warning("CIDEr over a single report is 0 by construction (document frequencies from the set)")
        out["CIDEr"] = float(Cider().compute_score(gts, res)[0])
    except BaseException:
        if scorer is not None:
            scorer.close()
        raise
    if scorer is not None:
        score = _finish_meteor(scorer, gts, res, meteor_timeout_s)
        if score is not None:
            out["METEOR"] = score
    return out


RADCLIQ_HELP = (
    "RadCliQ was requested (evaluation.radcliq: true) but is unavailable. It combines RadGraph F1, BERTScore, "
    "CheXbert similarity and BLEU and needs model weights from the Hugging Face hub. Install it with "
    "`pip install RadEval` on a machine that can reach the hub (the weights download at first use, or "
    "pre-fill HF_HOME), or set evaluation.radcliq: false."
)


def radcliq_score(references: Sequence[str | Sequence[str]], hypotheses: Sequence[str]) -> float:
    """RadCliQ-v1 (lower is better) through the optional ``RadEval`` package; off by default.

    Raises RuntimeError with installation instructions when the package or its hub weights are missing:
    asking for RadCliQ and silently not getting it would leave a hole in the paper's table.
    """
    try:
        from RadEval import RadEval  # type: ignore[import-not-found]  # optional dependency
    except ImportError as exc:
        raise RuntimeError(RADCLIQ_HELP) from exc
    refs = [r if isinstance(r, str) else (list(r)[0] if len(r) else "") for r in references]
    try:
        evaluator = RadEval(do_radcliq=True)
        result = evaluator(refs=refs, hyps=[h or "" for h in hypotheses])
    except Exception as exc:  # noqa: BLE001 - weights missing offline, API drift: same advice
        raise RuntimeError(f"{RADCLIQ_HELP} (RadEval failed: {type(exc).__name__}: {exc})") from exc
    for key in ("radcliq-v1", "radcliq_v1", "radcliq", "RadCliQ"):
        if key in result:
            value = result[key]
            return float(value["mean"] if isinstance(value, dict) and "mean" in value else value)
    raise RuntimeError(f"{RADCLIQ_HELP} (RadEval returned no RadCliQ key: {sorted(result)})")
