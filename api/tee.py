"""Fan one collector's output out to several sinks (the store and the live hub)."""

from __future__ import annotations

from collections.abc import Sequence

from shopfloor.models.samples import ConnectivityEvent, SampleBatch, SampleSink


class TeeSink:
    """A SampleSink writing every batch and event to each sink in turn (the store first: it is the record)."""

    def __init__(self, *sinks: SampleSink) -> None:
        self.sinks = sinks

    def write(self, batch: SampleBatch) -> None:
        for sink in self.sinks:
            sink.write(batch)

    def write_connectivity(self, events: Sequence[ConnectivityEvent]) -> None:
        for sink in self.sinks:
            sink.write_connectivity(events)
