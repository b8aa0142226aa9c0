"""Benchmark: report metrics + clinical-efficacy labelling of 1,207 generated reports (target: < 5 s).

Run: ``python bench/bench_metrics.py [--n 1207] [--meteor]``. Reports are random combinations of
realistic sentences (findings with sides, lobes, negations, hedges, XXXX tokens, numbered lists), so the
labeler's sentence cache gets a realistic, not a trivial, hit rate. METEOR is off by default: it starts a JVM
and loads a 60 MB paraphrase table (about 6 s on its own) and only runs where Java is installed.
"""

from __future__ import annotations

import argparse
import random
import time

SIDES = ["right", "left", "bilateral"]
ZONES = ["upper lobe", "lower lobe", "middle lobe", "apical", "basilar", "perihilar", "lingular"]
POSITIVE = [
    "There is {ext} consolidation in the {side} {zone}.",
    "{Side} {zone} airspace disease, likely pneumonia.",
    "Patchy {side} {zone} opacity consistent with pneumonia.",
    "{Side} {zone} cavitary lesion with surrounding nodules.",
    "Fibrotic scarring in the {side} apex, consistent with prior TB.",
    "Multiple small nodules in the {side} {zone} concerning for tuberculosis.",
    "Small {side} pleural effusion.",
    "Hilar lymphadenopathy on the {side}.",
    "{Side} basilar atelectasis versus infiltrate.",
    "Mild cardiomegaly.",
    "Calcified granuloma in the {side} {zone}.",
]
NEGATIVE = [
    "No pleural effusion or pneumothorax.",
    "The lungs are clear.",
    "Heart size is normal.",
    "No focal consolidation to suggest pneumonia.",
    "No evidence of active tuberculosis.",
    "The XXXX are intact.",
    "No hilar or mediastinal lymphadenopathy.",
    "Cardiomediastinal silhouette is within normal limits.",
    "No change in the {side} {zone} nodule.",
    "Pneumonia cannot be excluded.",
    "Costophrenic angles are sharp.",
]


def fake_report(rng: random.Random) -> str:
    """One report of 3 to 6 sentences, sometimes as a numbered list."""
    n_pos = rng.choice([0, 0, 1, 1, 2, 3])
    parts = [rng.choice(POSITIVE) for _ in range(n_pos)] + [
        rng.choice(NEGATIVE) for _ in range(rng.randint(2, 4))
    ]
    rng.shuffle(parts)
    fill = {
        "side": rng.choice(SIDES),
        "zone": rng.choice(ZONES),
        "ext": rng.choice(["patchy", "dense", "focal", "mild", "lobar"]),
    }
    fill["Side"] = fill["side"].capitalize()
    sentences = [p.format(**fill) for p in parts]
    if rng.random() < 0.2:
        return " ".join(f"{i + 1}. {s}" for i, s in enumerate(sentences))
    return " ".join(sentences)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1207)
    parser.add_argument("--meteor", action="store_true", help="also time METEOR (needs Java)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    t0 = time.perf_counter()
    from radgen.evaluate import labeler
    from radgen.evaluate.labeler import ce_metrics
    from radgen.evaluate.reports import report_metrics

    t_import = time.perf_counter() - t0
    rng = random.Random(args.seed)
    references = [fake_report(rng) for _ in range(args.n)]
    hypotheses = [fake_report(rng) for _ in range(args.n)]
    labeler._label_sentence.cache_clear()
    labeler._label_text.cache_clear()

    t1 = time.perf_counter()
    scores = report_metrics(references, hypotheses, meteor=args.meteor)
    t2 = time.perf_counter()
    ce = ce_metrics(references, hypotheses)
    t3 = time.perf_counter()

    print(f"reports: {args.n} generated vs {args.n} reference ({len(set(references + hypotheses))} distinct)")
    print(f"import:                      {t_import:6.2f} s")
    print(
        f"report_metrics{' (+METEOR)' if args.meteor else '':10s}    {t2 - t1:6.2f} s   "
        + "  ".join(f"{k}={v:.3f}" for k, v in scores.items())
    )
    print(
        f"ce_metrics (labeler, cold):  {t3 - t2:6.2f} s   " + "  ".join(f"{k}={v:.3f}" for k, v in ce.items())
    )
    sentences = [s for text in references + hypotheses for s in labeler._sentences(text)]
    t4 = time.perf_counter()
    for s in sentences:
        labeler._label_sentence.__wrapped__(s)
    t5 = time.perf_counter()
    print(
        f"labeler without any cache:   {t5 - t4:6.2f} s   ({len(sentences)} sentences, "
        f"{1e3 * (t5 - t4) / max(len(sentences), 1):.2f} ms each: the worst case of all-distinct reports)"
    )
    total = t3 - t1
    print(f"total metrics:               {total:6.2f} s   ({'OK' if total < 5 else 'OVER'} the 5 s target)")


if __name__ == "__main__":
    main()
