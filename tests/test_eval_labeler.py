"""Rule-based findings labeler: one hand-written case per rule, real-looking reports, clinical efficacy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import precision_recall_fscore_support

from radgen.evaluate.labeler import (
    CE_FINDINGS_METRICS,
    CE_METRICS,
    DIAGNOSIS_LABELS,
    FINDINGS,
    OBSERVATION_FINDINGS,
    ce_findings_metrics,
    ce_metrics,
    label_matrix,
    label_report,
)

POS, NEG, UNC = 1, 0, -1


def test_findings_cover_the_contract() -> None:
    required = {
        "no_finding",
        "consolidation",
        "opacity",
        "effusion",
        "nodule",
        "cavity",
        "fibrosis",
        "pneumonia",
        "tuberculosis",
        "lymphadenopathy",
    }
    assert required <= set(FINDINGS)


@pytest.mark.parametrize(
    "text,finding,value",
    [
        # mentions, synonyms and abbreviations
        ("Right lower lobe consolidation.", "consolidation", POS),
        ("Patchy infiltrate in the left base.", "opacity", POS),
        ("Focal airspace disease in the right upper lobe.", "opacity", POS),
        ("Old PTB.", "tuberculosis", POS),
        ("Findings of TB.", "tuberculosis", POS),
        ("Miliary pattern.", "tuberculosis", POS),
        ("Right hilar LAD.", "lymphadenopathy", POS),
        ("Mediastinal adenopathy.", "lymphadenopathy", POS),
        ("Enlarged lobulated left hilum.", "lymphadenopathy", POS),
        ("Cavitation in the left apex.", "cavity", POS),
        ("A cavitary lesion.", "cavity", POS),
        ("Fibronodular changes.", "nodule", POS),
        ("Fibronodular changes.", "fibrosis", POS),
        ("Blunting of the left costophrenic angle.", "effusion", POS),
        ("Subsegmental atelectasis at the bases.", "atelectasis", POS),
        ("The heart is mildly enlarged.", "cardiomegaly", POS),
        ("Small right apical pneumothorax.", "pneumothorax", POS),
        ("Mild pulmonary vascular congestion.", "edema", POS),
        # pre-negation triggers
        ("No pleural effusion.", "effusion", NEG),
        ("Not consolidation.", "consolidation", NEG),
        ("Lungs are clear without consolidation.", "consolidation", NEG),
        ("No evidence of active tuberculosis.", "tuberculosis", NEG),
        ("Negative for pneumonia.", "pneumonia", NEG),
        ("Absence of cavitation.", "cavity", NEG),
        ("Rule out pneumonia.", "pneumonia", NEG),
        ("Free of effusion.", "effusion", NEG),
        ("The lungs are clear of infiltrate.", "opacity", NEG),
        ("Interval resolution of the consolidation.", "consolidation", NEG),
        # a negation distributes over a list
        ("No focal consolidation, pleural effusion, or pneumothorax.", "pneumothorax", NEG),
        (
            "There is no focal airspace consolidation, pleural effusion or suspicious pulmonary nodule.",
            "nodule",
            NEG,
        ),
        # post-negation triggers
        ("Tuberculosis is unlikely.", "tuberculosis", NEG),
        ("Pneumonia was ruled out.", "pneumonia", NEG),
        ("The effusion has resolved.", "effusion", NEG),
        ("Pneumothorax is not seen.", "pneumothorax", NEG),
        ("Lymphadenopathy is not identified.", "lymphadenopathy", NEG),
        # pseudo-negations
        ("No change in the right upper lobe cavity.", "cavity", POS),
        ("No interval change in the left apical fibrosis.", "fibrosis", POS),
        ("No significant change in the nodule.", "nodule", POS),
        ("Tuberculosis is not ruled out.", "tuberculosis", UNC),
        ("No consolidation to suggest pneumonia.", "pneumonia", NEG),
        # scope terminators
        ("No consolidation but a small left effusion.", "effusion", POS),
        ("No pneumothorax, however there is right basilar opacity.", "opacity", POS),
        ("No effusion although mild cardiomegaly.", "cardiomegaly", POS),
        ("No acute process except a right upper lobe nodule.", "nodule", POS),
        ("No new opacity, which could be atelectasis.", "atelectasis", UNC),
        ("No pneumothorax secondary to the biopsy, pneumothorax noted.", "pneumothorax", POS),
        ("No pneumothorax. Right pleural effusion.", "effusion", POS),
        ("No pneumothorax; right pleural effusion.", "effusion", POS),
        ("No pneumothorax and a small right effusion.", "effusion", POS),
        # a cue of the other kind ends a scope
        ("No pneumothorax, possible small effusion.", "effusion", UNC),
        ("No pneumothorax, possible small effusion.", "pneumothorax", NEG),
        ("Possible small effusion, no pneumothorax.", "pneumothorax", NEG),
        # uncertainty (pre and post)
        ("Findings may represent pneumonia.", "pneumonia", UNC),
        ("This could be early tuberculosis.", "tuberculosis", UNC),
        ("Possible left lower lobe consolidation.", "consolidation", UNC),
        ("Suspected reactivation TB.", "tuberculosis", UNC),
        ("Cannot exclude pneumonia.", "pneumonia", UNC),
        ("Pneumonia cannot be excluded.", "pneumonia", UNC),
        ("Concern for cavitation.", "cavity", UNC),
        ("Appearance suggestive of tuberculosis.", "tuberculosis", UNC),
        ("Atelectasis versus pneumonia.", "atelectasis", UNC),
        ("Atelectasis versus pneumonia.", "pneumonia", UNC),
        ("Atelectasis or infiltrate at the left base.", "opacity", UNC),
        ("A small effusion is suspected.", "effusion", UNC),
        ("Left basilar opacity, likely atelectasis.", "opacity", POS),
        ("Left basilar opacity, likely atelectasis.", "atelectasis", UNC),
        # unmentions
        ("Pleural cavity is unremarkable.", "cavity", None),
        ("LAD stent in place.", "lymphadenopathy", None),
        ("Small pericardial effusion.", "effusion", None),
        # negative phrasing without a negation word
        ("Heart size is normal.", "cardiomegaly", NEG),
        ("The heart is not enlarged.", "cardiomegaly", NEG),
        ("The costophrenic angles are sharp.", "effusion", NEG),
    ],
)
def test_rules(text: str, finding: str, value: int | None) -> None:
    labels = label_report(text)
    assert labels.get(finding) == value, labels


def test_aggregation_positive_beats_uncertain_beats_negative() -> None:
    assert label_report("No pneumonia. Possible pneumonia.")["pneumonia"] == UNC
    assert label_report("Possible pneumonia. Right lower lobe pneumonia.")["pneumonia"] == POS
    assert label_report("No evidence of active TB. Old PTB with scarring.")["tuberculosis"] == POS


def test_no_finding() -> None:
    assert label_report("The lungs are clear. No pleural effusion or pneumothorax.")["no_finding"] == POS
    assert "no_finding" not in label_report("Small right effusion. Lungs otherwise clear.")
    assert "no_finding" not in label_report("Possible small right effusion.")
    # another abnormality outside FINDINGS cancels it, a negated one does not
    assert "no_finding" not in label_report("Calcified granuloma in the right upper lobe. No effusion.")
    assert "no_finding" not in label_report("Degenerative changes of the thoracic spine.")
    assert label_report("No fracture. Lungs are clear.")["no_finding"] == POS
    assert label_report("") == {} and label_report(None) == {} and label_report(float("nan")) == {}
    assert label_report("XXXX XXXX.") == {"no_finding": POS}


def test_real_looking_reports() -> None:
    iu_normal = (
        "The heart is normal in size. The mediastinum is unremarkable. The lungs are clear. "
        "No pneumothorax or pleural effusion. XXXX XXXX are intact."
    )
    assert label_report(iu_normal) == {
        "no_finding": POS,
        "effusion": NEG,
        "cardiomegaly": NEG,
        "pneumothorax": NEG,
    }

    iu_numbered = (
        "1. Right lower lobe airspace disease, XXXX pneumonia. 2. Small right pleural effusion. "
        "3. No pneumothorax."
    )
    assert label_report(iu_numbered) == {
        "opacity": POS,
        "effusion": POS,
        "pneumonia": POS,
        "pneumothorax": NEG,
    }

    tb = (
        "FINDINGS: Left upper lobe cavitary lesion with surrounding nodular opacities and fibrotic scarring. "
        "Right hilar lymphadenopathy. No pleural effusion.\n"
        "IMPRESSION: Findings are concerning for reactivation tuberculosis. Recommend sputum AFB."
    )
    labels = label_report(tb)
    assert labels["cavity"] == POS and labels["nodule"] == POS and labels["opacity"] == POS
    assert labels["fibrosis"] == POS and labels["lymphadenopathy"] == POS
    assert labels["effusion"] == NEG and labels["tuberculosis"] == UNC
    assert "no_finding" not in labels

    mixed = (
        "Heart size and mediastinal contours are within normal limits. Stable calcified granuloma in the "
        "right upper lobe. No focal airspace consolidation. Mild degenerative changes of the spine."
    )
    assert label_report(mixed) == {"consolidation": NEG, "cardiomegaly": NEG}

    compare = (
        "Compared to XXXX, no interval change in right upper lobe consolidation. Pneumonia not excluded."
    )
    assert label_report(compare) == {"consolidation": POS, "pneumonia": UNC}


def test_label_matrix_uncertain_policy() -> None:
    texts = ["Possible pneumonia.", "Right lower lobe pneumonia.", "No pneumonia."]
    j = FINDINGS.index("pneumonia")
    np.testing.assert_array_equal(label_matrix(texts)[:, j], [0, 1, 0])
    np.testing.assert_array_equal(label_matrix(texts, uncertain_as_positive=True)[:, j], [1, 1, 0])


def test_ce_metrics_by_hand() -> None:
    refs = ["Right lower lobe pneumonia. Small effusion.", "Left apical cavity.", "Lungs are clear.", ""]
    hyps = ["Right lower lobe pneumonia.", "Left apical cavity with effusion.", "Possible effusion.", "TB."]
    # reference positives: {pneumonia, effusion}, {cavity}, {no_finding}; the 4th pair has no reference
    # generated positives:  {pneumonia},         {cavity, effusion}, {no uncertain -> nothing}
    # TP: pneumonia, cavity = 2; FP: effusion (2nd) = 1; FN: effusion (1st), no_finding (3rd) = 2
    ce = ce_metrics(refs, hyps)
    assert set(ce) == set(CE_METRICS)
    assert ce["ce_precision_micro"] == pytest.approx(2 / 3)
    assert ce["ce_recall_micro"] == pytest.approx(2 / 4)
    assert ce["ce_f1_micro"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 2))
    # macro over findings positive somewhere: pneumonia (1,1,1), cavity (1,1,1), effusion (0,0,0), no_finding (0,0,0)
    assert ce["ce_precision_macro"] == pytest.approx(0.5)
    assert ce["ce_recall_macro"] == pytest.approx(0.5)
    assert ce["ce_f1_macro"] == pytest.approx(0.5)
    # same as scikit-learn restricted to the active findings
    ref_m, hyp_m = label_matrix(refs[:3]), label_matrix(hyps[:3])
    active = np.flatnonzero((ref_m | hyp_m).any(axis=0))
    p, r, f, _ = precision_recall_fscore_support(
        ref_m[:, active], hyp_m[:, active], average="macro", zero_division=0
    )
    assert (ce["ce_precision_macro"], ce["ce_recall_macro"], ce["ce_f1_macro"]) == pytest.approx((p, r, f))
    p, r, f, _ = precision_recall_fscore_support(ref_m, hyp_m, average="micro", zero_division=0)
    assert (ce["ce_precision_micro"], ce["ce_recall_micro"], ce["ce_f1_micro"]) == pytest.approx((p, r, f))
    # uncertain counted as positive: the 3rd hypothesis now claims an effusion (one more FP)
    ce_pos = ce_metrics(refs, hyps, uncertain_as_positive=True)
    assert ce_pos["ce_precision_micro"] == pytest.approx(2 / 4)


def test_ce_identical_reports_are_perfect_and_edge_cases() -> None:
    refs = ["Right lower lobe pneumonia.", "Left apical cavity, concerning for TB.", "Lungs are clear."]
    assert all(v == pytest.approx(1.0) for v in ce_metrics(refs, refs).values())
    assert all(math.isnan(v) for v in ce_metrics(["Possible TB."], ["Possible TB."]).values())
    with pytest.raises(ValueError):
        ce_metrics(["", None], ["a", "b"])


def test_findings_only_ce_leaves_out_the_diagnoses() -> None:
    assert DIAGNOSIS_LABELS == {"no_finding", "pneumonia", "tuberculosis"}
    assert set(OBSERVATION_FINDINGS) == set(FINDINGS) - DIAGNOSIS_LABELS
    assert {"consolidation", "nodule", "cavity", "fibrosis", "effusion"} <= set(OBSERVATION_FINDINGS)
    # the pair differs only in the diagnosis of the impression
    refs = ["Right upper lobe consolidation. IMPRESSION: pneumonia."]
    hyps = ["Right upper lobe consolidation. IMPRESSION: tuberculosis."]
    full, findings = ce_metrics(refs, hyps), ce_findings_metrics(refs, hyps)
    assert set(findings) == set(CE_FINDINGS_METRICS)
    # full: TP consolidation, FP tuberculosis, FN pneumonia
    assert full["ce_f1_micro"] == pytest.approx(0.5)
    assert full["ce_precision_macro"] == pytest.approx(1 / 3)
    assert all(v == pytest.approx(1.0) for v in findings.values())


def test_findings_only_ce_by_hand() -> None:
    refs = ["Right lower lobe pneumonia. Small effusion.", "Left apical cavity.", "Lungs are clear.", ""]
    hyps = ["Right lower lobe pneumonia.", "Left apical cavity with effusion.", "Possible effusion.", "TB."]
    # observations only: reference {effusion}, {cavity}, {}; generated {}, {cavity, effusion}, {}
    # TP cavity = 1; FP effusion (2nd) = 1; FN effusion (1st) = 1; pneumonia and no_finding do not count
    ce = ce_findings_metrics(refs, hyps)
    assert ce["ce_findings_precision_micro"] == pytest.approx(1 / 2)
    assert ce["ce_findings_recall_micro"] == pytest.approx(1 / 2)
    assert ce["ce_findings_f1_micro"] == pytest.approx(1 / 2)
    # macro over effusion (0, 0, 0) and cavity (1, 1, 1)
    assert ce["ce_findings_f1_macro"] == pytest.approx(1 / 2)
    # reports that state only a diagnosis leave the findings-only CE undefined
    assert all(math.isnan(v) for v in ce_findings_metrics(["Pneumonia."], ["Pneumonia."]).values())


# --------------------------------------------------------------------------- main finding named
def test_main_finding_rate_by_hand() -> None:
    from radgen.evaluate.labeler import main_finding_rate, names_main_finding

    cases = [
        ("IMPRESSION: No active lung disease.", "normal", True),
        ("Right lower lobe consolidation. IMPRESSION: Pneumonia.", "normal", False),
        ("Patchy consolidation in the right lower zone.", "pneumonia", True),
        ("No focal consolidation. Heart size is normal.", "pneumonia", False),  # negated
        ("Faint left upper zone nodularity; tuberculosis should be considered.", "tb", True),  # hedged counts
        ("A thick-walled cavity in the right upper zone.", "tb", True),
        ("Patchy consolidation in the left lower zone.", "tb", False),  # wrong disease
        ("", "tb", False),
    ]
    for report, label, expected in cases:
        assert names_main_finding(report, label) is expected, (report, label)
    reports, labels, expected = zip(*cases, strict=True)
    assert main_finding_rate(reports, labels) == pytest.approx(4 / 8)
    assert math.isnan(main_finding_rate([], []))
    with pytest.raises(ValueError, match="2 reports for 1 labels"):
        main_finding_rate(["a", "b"], ["tb"])
    with pytest.raises(ValueError, match="unknown class"):
        names_main_finding("text", "covid")
