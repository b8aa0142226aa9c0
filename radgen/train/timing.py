"""Where a training job's wall time goes: named, exclusive stopwatch sections.

`Stopwatch` accumulates time.perf_counter() seconds per name; a section opened inside another is subtracted from
the outer one, so the parts never count a second twice and `breakdown(total)` can report the uncovered rest as
`other` (parts + other == total).

Caveat on CUDA: kernels run asynchronously, so a section's time is the host's time until the next point that
waits for the device. The training step does not wait (its losses are summed on the device, read once per
epoch), so part of a step's GPU time is booked to the next section that waits: the next batch's host-to-device
copy (data_and_augmentation) or the epoch's validation. No synchronisation is added for the sake of timing; on
CPU the sections are exact.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

OTHER = "other"


class Stopwatch:
    """Exclusive wall-time accumulator: `with sw("name"): ...`; nested sections are not counted in the outer."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._inner: list[float] = []  # per open section: seconds spent in sections nested inside it

    def add(self, seconds: dict[str, float]) -> None:
        """Add seconds carried over (a resumed session's earlier sections); `other` is recomputed, not carried."""
        for name, value in seconds.items():
            if name != OTHER:
                self.seconds[name] = self.seconds.get(name, 0.0) + float(value)

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        self._inner.append(0.0)
        start = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            nested = self._inner.pop()
            self.seconds[name] = self.seconds.get(name, 0.0) + elapsed - nested
            if self._inner:
                self._inner[-1] += elapsed

    def total(self) -> float:
        """Seconds inside all sections (outermost sections' wall time)."""
        return sum(self.seconds.values())

    def breakdown(self, wall_seconds: float, digits: int = 3) -> dict[str, float]:
        """Seconds per section plus `other` = wall_seconds minus the sections (clamped at 0), rounded."""
        parts = {k: round(v, digits) for k, v in self.seconds.items()}
        parts[OTHER] = round(max(wall_seconds - self.total(), 0.0), digits)
        return parts
