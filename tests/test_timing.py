"""Where a training job's time goes (issue 14, point 1): radgen.train.timing.Stopwatch and the
`time_breakdown_s` of summary.json.

The stopwatch is checked against a scripted clock (hand-computed sections); the engine's breakdown against a
wall clock read outside train_fold on a 1-epoch tiny run (tests/model_fixtures.py).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import model_fixtures as mf
import pytest

import radgen.train.timing as timing
from radgen.train.timing import OTHER, Stopwatch

PARTS = {
    "setup",
    "data_and_augmentation",
    "tokenization",
    "forward_backward_optimizer",
    "training_text_generation",
    "validation",
    "checkpointing",
    OTHER,
}


class ScriptedClock:
    """perf_counter replacement that returns the given readings in order."""

    def __init__(self, readings: list[float]) -> None:
        self.readings = list(readings)

    def __call__(self) -> float:
        return self.readings.pop(0)


def test_nested_sections_are_exclusive(monkeypatch):
    # outer 0 → 10 s, with inner 2 → 5 s and a second inner 6 → 7 s: outer owns 10 - 3 - 1 = 6 s
    monkeypatch.setattr(timing.time, "perf_counter", ScriptedClock([0, 2, 5, 6, 7, 10, 20, 24]))
    sw = Stopwatch()
    with sw("outer"):
        with sw("inner"):
            pass
        with sw("inner"):
            pass
    with sw("later"):  # 20 → 24
        pass
    assert sw.seconds == {"outer": 6.0, "inner": 4.0, "later": 4.0}
    assert sw.total() == 14.0
    assert sw.breakdown(wall_seconds=15.0) == {"outer": 6.0, "inner": 4.0, "later": 4.0, OTHER: 1.0}


def test_carried_seconds_add_and_other_is_recomputed(monkeypatch):
    monkeypatch.setattr(timing.time, "perf_counter", ScriptedClock([0, 1.5]))
    sw = Stopwatch()
    sw.add({"a": 2.0, OTHER: 99.0})  # an earlier session's breakdown: its `other` is not a section
    with sw("a"):
        pass
    assert sw.seconds == {"a": 3.5}
    assert sw.breakdown(wall_seconds=5.0) == {"a": 3.5, OTHER: 1.5}


def test_section_time_counts_when_the_body_raises(monkeypatch):
    monkeypatch.setattr(timing.time, "perf_counter", ScriptedClock([1, 4]))
    sw = Stopwatch()
    with pytest.raises(KeyError), sw("failing"):
        raise KeyError("x")
    assert sw.seconds == {"failing": 3.0}


def test_breakdown_covers_a_one_epoch_run(data, tmp_path):
    from radgen.train import train_fold  # noqa: F401 - imported before the clock starts

    out = tmp_path / "radgen" / "fold0"
    start = time.perf_counter()
    summary = mf.train(mf.variant("radgen", epochs=1), data, out)
    wall = time.perf_counter() - start
    parts = summary["time_breakdown_s"]
    assert set(parts) == PARTS
    assert all(v >= 0 for v in parts.values())
    # RadGen generates the text mix and its validation reports, trains, reads and tokenises every epoch
    for name in PARTS - {OTHER, "checkpointing"}:
        assert parts[name] > 0, name
    total = sum(parts.values())
    # no second counted twice (rounding: 1 ms per part), and the sections cover the job but its last milliseconds
    # (summary.json, the rename, freeing the model)
    assert total <= wall + 0.001 * len(parts)
    assert total >= 0.9 * wall, (total, wall)
    assert parts[OTHER] <= 0.1 * total
    assert json.loads((out / "summary.json").read_text())["time_breakdown_s"] == parts


class Killed(Exception):
    pass


def _kill_after_first_epoch(epoch: int, *_: object) -> None:
    if epoch == 0:
        raise Killed


def test_resumed_run_adds_the_killed_sessions_time(data, tmp_path):
    v, ckpt, out = mf.variant("radgen", epochs=2), tmp_path / "ckpt", tmp_path / "model"
    with pytest.raises(Killed):
        mf.train(v, data, out, checkpoint_dir=ckpt, epoch_callback=_kill_after_first_epoch)
    (state,) = ckpt.glob("*/last/state.json")
    first = json.loads(Path(state).read_text())["time_breakdown_s"]
    assert first["forward_backward_optimizer"] > 0 and first["validation"] > 0
    summary = mf.train(v, data, out, checkpoint_dir=ckpt)
    assert summary["resumed_from_epoch"] == 1
    parts = summary["time_breakdown_s"]
    # the second session trained and validated one more epoch on top of the first session's seconds
    for name in ("forward_backward_optimizer", "validation", "training_text_generation", "setup"):
        assert parts[name] > first[name], name
    assert all(v >= 0 for v in parts.values())
    assert sum(parts.values()) >= summary["train_seconds"] - 0.01  # rounding
