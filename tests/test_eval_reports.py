"""Report metrics against pycocoevalcap's scorers called directly, cleaning, and METEOR failure handling."""

from __future__ import annotations

import logging
import time

import pytest
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.rouge.rouge import Rouge

from radgen.evaluate import reports
from radgen.evaluate.reports import clean_report, java_available, radcliq_score, report_metrics

REFERENCES = [
    "The heart is normal in size. The lungs are clear. No pleural effusion or pneumothorax.",
    "1. Right lower lobe consolidation, XXXX pneumonia. 2. Small right pleural effusion.",
    "Left upper lobe cavitary lesion with surrounding nodules; consistent with tuberculosis.",
    "Heart size within normal limits. Calcified granuloma in the right upper lobe.",
    "Mild cardiomegaly. No focal airspace disease.",
]
HYPOTHESES = [
    "The heart is normal. Lungs are clear. No effusion.",
    "Right lower lobe opacity, likely pneumonia.",
    "Left upper lobe cavity with nodules, concerning for TB.",
    "",
    "Cardiomegaly. No consolidation or effusion.",
]


def _direct(refs: list[list[str]], hyps: list[str]) -> dict[str, float]:
    gts = {i: r for i, r in enumerate(refs)}
    res = {i: [h] for i, h in enumerate(hyps)}
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    out = {f"BLEU-{k + 1}": b for k, b in enumerate(bleu)}
    out["ROUGE-L"] = Rouge().compute_score(gts, res)[0]
    out["CIDEr"] = Cider().compute_score(gts, res)[0]
    return out


@pytest.mark.parametrize(
    "raw,clean",
    [
        ("1. No effusion.  2. Heart: normal!", "no effusion . heart normal ."),
        (
            "The XXXX are clear. 1.5 cm left-sided nodule...\n3) Stable.",
            "the xxxx are clear . 15 cm left sided nodule . stable .",
        ),
        ("Lungs are clear", "lungs are clear ."),
        ("Pneumonia (right/left?)", "pneumonia right left ."),
        ("", ""),
        (None, ""),
        (float("nan"), ""),
        (" ... ", ""),
    ],
)
def test_clean_report(raw: object, clean: str) -> None:
    assert clean_report(raw) == clean


def test_equals_pycocoevalcap_called_directly() -> None:
    ours = report_metrics(REFERENCES, HYPOTHESES, meteor=False)
    direct = _direct([[clean_report(r)] for r in REFERENCES], [clean_report(h) for h in HYPOTHESES])
    assert set(ours) == {"BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "ROUGE-L", "CIDEr"}
    for key, value in direct.items():
        assert ours[key] == pytest.approx(value, abs=1e-12), key


def test_several_references_per_hypothesis() -> None:
    refs = [[r, REFERENCES[(i + 1) % len(REFERENCES)]] for i, r in enumerate(REFERENCES)]
    ours = report_metrics(refs, HYPOTHESES, meteor=False)
    direct = _direct([[clean_report(x) for x in r] for r in refs], [clean_report(h) for h in HYPOTHESES])
    for key, value in direct.items():
        assert ours[key] == pytest.approx(value, abs=1e-12), key


def test_perfect_hypotheses_score_perfectly() -> None:
    ours = report_metrics(REFERENCES, REFERENCES, meteor=False)
    for key in ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "ROUGE-L"):
        assert ours[key] == pytest.approx(1.0, abs=1e-6), key
    # CIDEr-D's scale: cosine similarity 1 for every n-gram order, times 10
    assert ours["CIDEr"] == pytest.approx(10.0, abs=1e-6)


def test_cider_is_computed_over_the_whole_set() -> None:
    whole = report_metrics(REFERENCES, HYPOTHESES, meteor=False)["CIDEr"]
    first_three = report_metrics(REFERENCES[:3], HYPOTHESES[:3], meteor=False)["CIDEr"]
    assert whole != pytest.approx(first_three)
    # document frequencies from a one-report set: every n-gram has idf log(1/1) = 0
    assert report_metrics(REFERENCES[:1], REFERENCES[:1], meteor=False)["CIDEr"] == 0.0


def test_empty_hypotheses_and_references() -> None:
    out = report_metrics(["No effusion.", "Lungs are clear."], ["", None], meteor=False)  # type: ignore[list-item]
    assert out["BLEU-1"] == pytest.approx(0.0, abs=1e-9) and out["ROUGE-L"] == 0.0
    # a hypothesis without any reference is left out, not scored against nothing
    with_gap = report_metrics(
        [REFERENCES[0], "", REFERENCES[1]], [HYPOTHESES[0], "anything", HYPOTHESES[1]], meteor=False
    )
    assert with_gap == report_metrics(REFERENCES[:2], HYPOTHESES[:2], meteor=False)
    with pytest.raises(ValueError, match="no hypothesis has a non-empty reference"):
        report_metrics(["", []], ["a", "b"], meteor=False)
    with pytest.raises(ValueError, match="references for"):
        report_metrics(["a"], ["a", "b"], meteor=False)


def test_meteor_omitted_with_a_note_without_java(monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    monkeypatch.setattr(reports, "java_available", lambda: False)
    with caplog.at_level(logging.WARNING):
        out = report_metrics(REFERENCES, HYPOTHESES)
    assert "METEOR" not in out
    assert "METEOR omitted" in caplog.text and "java" in caplog.text


class _BrokenMeteor:
    def __init__(self) -> None:
        self.closed = False

    def compute_score(self, gts, res):
        raise ValueError("could not convert string to float: ''")  # what a dead JVM looks like

    def close(self) -> None:
        self.closed = True


class _HangingMeteor(_BrokenMeteor):
    def compute_score(self, gts, res):
        while not self.closed:
            time.sleep(0.01)
        raise OSError("pipe closed")


@pytest.mark.parametrize("fake,message", [(_BrokenMeteor, "failed"), (_HangingMeteor, "did not answer")])
def test_meteor_failures_never_crash(monkeypatch: pytest.MonkeyPatch, caplog, fake, message: str) -> None:
    monkeypatch.setattr(reports, "java_available", lambda: True)
    monkeypatch.setattr(reports, "_ClosableMeteor", fake)
    with caplog.at_level(logging.WARNING):
        out = report_metrics(REFERENCES, HYPOTHESES, meteor_timeout_s=0.3)
    assert "METEOR" not in out and "BLEU-4" in out
    assert f"METEOR omitted: the Java scorer {message}" in caplog.text


def test_meteor_start_failure(monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    def boom() -> None:
        raise FileNotFoundError("java")

    monkeypatch.setattr(reports, "java_available", lambda: True)
    monkeypatch.setattr(reports, "_ClosableMeteor", boom)
    with caplog.at_level(logging.WARNING):
        out = report_metrics(REFERENCES, HYPOTHESES)
    assert "METEOR" not in out and "could not start" in caplog.text


@pytest.mark.slow
@pytest.mark.skipif(not java_available(), reason="METEOR needs Java")
def test_meteor_equals_pycocoevalcap_when_java_works() -> None:
    from pycocoevalcap.meteor.meteor import Meteor

    ours = report_metrics(REFERENCES, HYPOTHESES, meteor=True)
    gts = {i: [clean_report(r)] for i, r in enumerate(REFERENCES)}
    res = {i: [clean_report(h)] for i, h in enumerate(HYPOTHESES)}
    direct = Meteor()
    try:
        expected = direct.compute_score(gts, res)[0]
    finally:
        direct.meteor_p.kill()
    assert ours["METEOR"] == pytest.approx(expected, abs=1e-9)


def test_radcliq_unavailable_says_what_to_install() -> None:
    try:
        import RadEval  # noqa: F401
    except ImportError:
        with pytest.raises(RuntimeError, match="pip install RadEval"):
            radcliq_score(["a"], ["a"])
    else:  # pragma: no cover - only where the optional package is installed
        pytest.skip("RadEval installed")
