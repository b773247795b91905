"""The one interface every sample store implements (DuckDB embedded, InfluxDB).

Collectors call :meth:`SampleStore.write` / :meth:`~SampleStore.write_connectivity`
from their loops: both only touch memory or local disk, never the network.
The KPI layer calls the ``read_*`` methods; the live display calls
:meth:`~SampleStore.latest`, which is served from memory.

Range reads are half-open, ``start_ns <= ts < end_ns`` (UTC epoch ns), so
consecutive shifts never count a sample twice.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from shopfloor.models.samples import ConnectivityEvent, SampleBatch, Series

# equipment -> field -> (ts_ns, value)
Latest = dict[str, dict[str, tuple[int, float]]]
# equipment -> field -> Series
SeriesMap = dict[str, dict[str, Series]]


class StoreError(RuntimeError):
    """The store cannot do what was asked (file in use, server error, bad configuration)."""


class StoreUnavailable(StoreError):
    """The store cannot keep or read its data right now (disk full, damaged file); the message says why.

    It says so once in the log (start, once a minute while it lasts, end) so
    the API answers 503 with the reason without logging every request.
    """


@dataclass(frozen=True, slots=True)
class StoreHealth:
    """Whether what was written is being kept, for /metrics and the API (all zero: everything is committed)."""

    problem: str | None = None  # why the store cannot keep what it is given now; None when it can
    unsaved_samples: int = 0  # accepted, not yet committed (DuckDB) or on disk (InfluxDB spool)
    unsaved_age_s: float = 0.0  # how long the oldest of them has waited (0 when there are none)
    dropped_samples: int = 0  # since the store was opened: could not be kept at all (memory bound, full spool disk)

    def error(self) -> StoreUnavailable | None:
        """What to raise (the API: 503) while the store cannot keep what it is given; None when it can."""
        if self.problem is None:
            return None
        dropped = f", {self.dropped_samples:,} dropped since start" if self.dropped_samples else ""
        return StoreUnavailable(f"{self.problem}; {self.unsaved_samples:,} samples not stored yet{dropped}")


@dataclass(frozen=True, slots=True)
class QualityLog:
    """Bad-quality samples, sorted by (ts_ns, equipment, field). Columns of equal length."""

    ts_ns: npt.NDArray[np.int64]
    equipment: npt.NDArray[np.object_]
    field: npt.NDArray[np.object_]
    code: npt.NDArray[np.uint8]  # models.states.Quality, never GOOD
    detail: npt.NDArray[np.object_]

    def __len__(self) -> int:
        return len(self.ts_ns)


class SampleStore(ABC):
    """Where samples go and where KPIs read them from."""

    plant_id: str
    # How log lines name the backend ("collecting … into DuckDBStore"); callers ask the store, never its class.
    kind: ClassVar[str]

    @abstractmethod
    def describe(self) -> str:
        """One line for people: which backend, and where its data is (the start-up banner shows it)."""

    @abstractmethod
    def write(self, batch: SampleBatch) -> None:
        """Accept a batch: GOOD samples become values, others ``quality`` records. Never blocks on the network.

        Raises ValueError for a batch that breaks the data contract (unknown
        measurement, robot batch without fleet, bad id); nothing of it is kept.
        """

    @abstractmethod
    def write_connectivity(self, events: Sequence[ConnectivityEvent]) -> None:
        """Record link up/down changes."""

    @abstractmethod
    def flush(self, timeout_s: float | None = None) -> bool:
        """Make what was written durable and visible to reads; True when everything got there.

        DuckDB commits (True), or raises :class:`StoreUnavailable` while it cannot
        (disk full: the samples stay in memory and are committed when it can).
        InfluxDB fsyncs its spool and waits up to ``timeout_s`` (None = the
        store's default) for the server to acknowledge; False means samples are
        still spooled (nothing is lost).
        """

    @abstractmethod
    def close(self) -> None:
        """Stop background work. Loses nothing written: it is committed, or spooled for the next start."""

    def health(self) -> StoreHealth:
        """Cheap (memory only): what waits to be committed, and why it cannot be, if it cannot."""
        return StoreHealth()

    def spool_backlog(self) -> tuple[int, Path] | None:
        """(bytes waiting on disk for the server, spool folder); None for a store that writes directly."""
        return None

    @abstractmethod
    def read_series(
        self,
        measurement: str,
        equipment_ids: Sequence[str],
        fields: Sequence[str] | None,
        start_ns: int,
        end_ns: int,
    ) -> SeriesMap:
        """GOOD values in ``[start_ns, end_ns)``, sorted by time.

        Every requested equipment id is a key; with ``fields`` given every
        requested field is a key of it (an empty Series when there is no data);
        with ``fields=None`` the fields that have data are returned.
        """

    @abstractmethod
    def read_quality(
        self,
        equipment_ids: Sequence[str],
        start_ns: int,
        end_ns: int,
        fields: Sequence[str] | None = None,
    ) -> QualityLog:
        """Bad-quality records in ``[start_ns, end_ns)``."""

    @abstractmethod
    def read_connectivity(self, equipment_ids: Sequence[str], start_ns: int, end_ns: int) -> list[ConnectivityEvent]:
        """Connectivity events in ``[start_ns, end_ns)``, sorted by (ts_ns, equipment, source)."""

    @abstractmethod
    def latest(self, measurement: str, equipment_ids: Sequence[str]) -> Latest:
        """Newest GOOD value of every field of each equipment (an empty dict when it has none)."""

    def __enter__(self) -> SampleStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
