"""Counting what collectors hand to the store, for a periodic one-line report instead of a line per sample."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from shopfloor.models.samples import ConnectivityEvent, SampleBatch, SampleSink


@dataclass
class MeasurementTally:
    samples: int = 0
    bad: int = 0
    equipment: set[str] = field(default_factory=set)


class TallySink:
    """Passes everything on to ``inner`` and counts it per measurement since start."""

    def __init__(self, inner: SampleSink) -> None:
        self.inner = inner
        self.tallies: dict[str, MeasurementTally] = {}
        self.link_events = 0

    def write(self, batch: SampleBatch) -> None:
        self.inner.write(batch)
        tally = self.tallies.setdefault(batch.measurement, MeasurementTally())
        tally.samples += len(batch)
        tally.bad += int(np.count_nonzero(~batch.good))
        if len(batch):
            tally.equipment.update(np.unique(batch.equipment).tolist())

    def write_connectivity(self, events: Sequence[ConnectivityEvent]) -> None:
        self.inner.write_connectivity(events)
        self.link_events += len(events)

    def samples_by_measurement(self) -> dict[str, int]:
        # read from the API's thread while a collector may add a key: copy first (one atomic C call)
        return {name: t.samples for name, t in list(self.tallies.items())}

    def summary(self) -> str:
        if not self.tallies:
            return "nothing written yet"
        parts = [
            f"{name} {t.samples} samples from {len(t.equipment)} equipment ({t.bad} bad)"
            for name, t in sorted(self.tallies.items())
        ]
        return "; ".join(parts)
