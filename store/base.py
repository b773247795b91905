"""The one interface every sample store implements (DuckDB embedded, InfluxDB).

Collectors call :meth:`SampleStore.write` / :meth:`~SampleStore.write_connectivity`
from their loops: both only touch memory or local disk, never the network.
The KPI layer calls the ``read_*`` methods; the live display calls
:meth:`~SampleStore.latest`, which is served from memory. The KPI ledger
(models/ledger.py: one row of totals per shift instance and equipment) is
kept beside the samples: :meth:`~SampleStore.write_ledger` and
:meth:`~SampleStore.read_ledger`.

Range reads are half-open, ``start_ns <= ts < end_ns`` (UTC epoch ns), so
consecutive shifts never count a sample twice. The base class does every
step of a read the backends share (argument checks, the empty case, dtypes,
sorting and de-duplication); a backend supplies only its query.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import numpy.typing as npt

from shopfloor.models.ledger import LedgerFormatError, LedgerRecord, LedgerRow, decode
from shopfloor.models.samples import ConnectivityEvent, SampleBatch
from shopfloor.models.timebase import NS_PER_DAY, NS_PER_S
from shopfloor.store.assemble import QualityLog as QualityLog
from shopfloor.store.assemble import SeriesMap as SeriesMap
from shopfloor.store.assemble import assemble_series, sort_quality
from shopfloor.store.decoded_rows import DecodedRows
from shopfloor.store.prepare import check_equipment_ids, check_measurement, check_range, prepare_ledger

if TYPE_CHECKING:
    # latest.py imports this module at run time; here only the attribute's type is needed
    from shopfloor.store.latest import LatestCache

# Where a read in context looks for a range's neighbours: an hour, a day, five weeks, then everything. A
# polled field has a neighbour within seconds; a field reported by exception may have been silent for days.
NEIGHBOUR_WINDOWS_NS: tuple[int | None, ...] = (3_600 * NS_PER_S, NS_PER_DAY, 35 * NS_PER_DAY, None)

# equipment -> field -> (ts_ns, value)
Latest = dict[str, dict[str, tuple[int, float]]]

# What a backend's range query hands the base class, rows in write order (dtypes as the backend has them):
# (equipment, field, ts_ns, value) columns
SeriesRows = tuple[npt.NDArray[np.object_], npt.NDArray[np.object_], npt.NDArray[Any], npt.NDArray[Any]]
# (ts_ns, equipment, field, code, detail) columns
QualityRows = tuple[
    npt.NDArray[Any], npt.NDArray[np.object_], npt.NDArray[np.object_], npt.NDArray[Any], npt.NDArray[np.object_]
]
# (ts_ns, equipment, source, connected, detail) per event
ConnectivityRows = Iterable[tuple[Any, Any, Any, Any, Any]]


class StoreError(RuntimeError):
    """The store cannot do what was asked (file in use, server error, bad configuration)."""


class StoreUnavailable(StoreError):
    """The store cannot keep or read its data right now (disk full, damaged file); the message says why.

    It says so once in the log (start, once a minute while it lasts, end) so
    the API answers 503 with the reason without logging every request.
    """


@dataclass(frozen=True, slots=True)
class RawDrop:
    """What one drop of old raw samples did (:meth:`SampleStore.drop_raw_before`)."""

    cutoff_ns: int  # raw samples before this are gone now (but each series' last one before it: its context)
    deleted: dict[str, int]  # rows deleted per table (printer, robot, quality)
    file_bytes: int  # the store's file on disk afterwards (freed space is reused, the file does not shrink)
    free_bytes: int  # of which free, reused by new samples before the file grows again

    @property
    def rows(self) -> int:
        return sum(self.deleted.values())


@dataclass(frozen=True, slots=True)
class Compaction:
    """A store file rewritten without its free space (:meth:`SampleStore.compact`)."""

    bytes_before: int
    bytes_after: int
    seconds: float


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


class SampleStore(ABC):
    """Where samples go and where KPIs read them from."""

    plant_id: str
    _latest: LatestCache  # this process's writes, seeded from the backend: what latest() answers from
    # How log lines name the backend ("collecting … into DuckDBStore"); callers ask the store, never its class.
    kind: ClassVar[str]
    # Ledger rows decoded before, by their record (store/decoded_rows.py); made on the first ledger read.
    _decoded_rows: DecodedRows | None = None

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

    # ------------------------------------------------------------------ reads
    # The backends differ only in their queries: the checks, the short cut for an empty range and the conversion
    # to the read results are here, once, so both answer alike.

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
        check_measurement(measurement)
        check_range(start_ns, end_ns)
        equipment_ids, fields = list(equipment_ids), None if fields is None else list(fields)
        self._before_read()
        if not equipment_ids or fields == [] or start_ns == end_ns:
            return assemble_series(equipment_ids, fields, *empty_series_rows())
        equipment, field, ts_ns, value = self._query_series(measurement, equipment_ids, fields, start_ns, end_ns)
        return assemble_series(
            equipment_ids,
            fields,
            equipment,
            field,
            ts_ns.astype(np.int64, copy=False),
            value.astype(np.float64, copy=False),
        )

    def read_series_in_context(
        self,
        measurement: str,
        equipment_ids: Sequence[str],
        fields: Sequence[str],
        start_ns: int,
        end_ns: int,
        lookahead_ns: Mapping[str, int] | None = None,
    ) -> SeriesMap:
        """What a KPI computation of ``[start_ns, end_ns)`` reads (docs/kpi.md, "Context"), per field:
        the GOOD samples in ``[start_ns, end_ns + lookahead)``, the last one before ``start_ns`` and the
        first at or after ``end_ns + lookahead``, of any age (``lookahead_ns``: per field, 0 where absent).

        The neighbours make a shift computed alone equal, to the last bit, to the
        same shift inside a longer computation: its closing reading closes it,
        and the state before its first sample is known. They are found in
        widening windows (an hour, a day, five weeks, then all), so the usual
        case costs two small indexed queries.
        """
        check_measurement(measurement)
        check_range(start_ns, end_ns)
        equipment_ids, fields = list(equipment_ids), list(fields)
        start_ns, end_ns = int(start_ns), int(end_ns)
        ahead = {f: int(v) for f, v in (lookahead_ns or {}).items()}
        if any(v < 0 for v in ahead.values()):
            raise ValueError(f"lookahead_ns must be >= 0, got {ahead}")
        self._before_read()
        if not equipment_ids or not fields or start_ns == end_ns:
            return assemble_series(equipment_ids, fields, *empty_series_rows())
        parts: list[SeriesRows] = []
        by_lookahead: dict[int, list[str]] = {}
        for f in fields:
            by_lookahead.setdefault(int(ahead.get(f, 0)), []).append(f)
        parts.append(self._neighbours(measurement, equipment_ids, fields, start_ns, before=True))
        for la_ns, group in sorted(by_lookahead.items()):
            parts.append(self._query_series(measurement, equipment_ids, group, start_ns, end_ns + la_ns))
            parts.append(self._neighbours(measurement, equipment_ids, group, end_ns + la_ns, before=False))
        equipment, field, ts_ns, value = (np.concatenate([p[k] for p in parts]) for k in range(4))
        return assemble_series(
            equipment_ids,
            fields,
            equipment,
            field,
            ts_ns.astype(np.int64, copy=False),
            value.astype(np.float64, copy=False),
        )

    def first_sample_ns(
        self, measurement: str, equipment_ids: Sequence[str], fields: Sequence[str], since_ns: int
    ) -> int | None:
        """The time of the first GOOD sample of ``fields`` at or after ``since_ns`` (None: there is none)."""
        check_measurement(measurement)
        self._before_read()
        if not equipment_ids or not fields:
            return None
        rows = self._neighbours(measurement, list(equipment_ids), list(fields), int(since_ns), before=False)
        return int(rows[2].min()) if len(rows[2]) else None

    def count_samples(
        self, measurement: str, equipment_ids: Sequence[str], fields: Sequence[str], start_ns: int, end_ns: int
    ) -> dict[str, int]:
        """Per equipment: how many GOOD samples of ``fields`` lie in ``[start_ns, end_ns)`` (one per field and
        timestamp, as a read returns them). A ledger row keeps this count; a larger one now means late data."""
        check_measurement(measurement)
        check_range(start_ns, end_ns)
        equipment_ids, fields = list(equipment_ids), list(fields)
        self._before_read()
        counts = dict.fromkeys(equipment_ids, 0)
        if not equipment_ids or not fields or start_ns == end_ns:
            return counts
        for equipment, n in self._count_samples(measurement, equipment_ids, fields, int(start_ns), int(end_ns)):
            if equipment in counts:
                counts[equipment] += int(n)
        return counts

    def _neighbours(
        self, measurement: str, equipment_ids: list[str], fields: list[str], at_ns: int, *, before: bool
    ) -> SeriesRows:
        """Per (equipment, field): the samples at the last timestamp before ``at_ns`` (``before``) or at the first
        timestamp at or after it, searched in widening windows until found or the whole history is searched."""
        found: list[SeriesRows] = []
        missing = {(e, f) for e in equipment_ids for f in fields}
        for window_ns in NEIGHBOUR_WINDOWS_NS:
            ids = sorted({e for e, _ in missing})
            names = sorted({f for _, f in missing})
            lo: int | None
            hi: int | None
            if before:
                lo, hi = (None if window_ns is None else at_ns - window_ns), at_ns
            else:
                lo, hi = at_ns, (None if window_ns is None else at_ns + window_ns)
            rows = self._query_neighbours(measurement, ids, names, lo, hi, last=before)
            if len(rows[0]):
                found.append(rows)
                missing -= set(zip(rows[0].tolist(), rows[1].tolist(), strict=True))
            if not missing:
                break
        return _concat_rows(found)

    def read_quality(
        self,
        equipment_ids: Sequence[str],
        start_ns: int,
        end_ns: int,
        fields: Sequence[str] | None = None,
    ) -> QualityLog:
        """Bad-quality records in ``[start_ns, end_ns)``."""
        check_range(start_ns, end_ns)
        equipment_ids, fields = list(equipment_ids), None if fields is None else list(fields)
        self._before_read()
        if not equipment_ids or fields == [] or start_ns == end_ns:
            return sort_quality(*empty_quality_rows())
        ts_ns, equipment, field, code, detail = self._query_quality(equipment_ids, fields, start_ns, end_ns)
        return sort_quality(ts_ns.astype(np.int64, copy=False), equipment, field, code.astype(np.uint8), detail)

    def read_connectivity(self, equipment_ids: Sequence[str], start_ns: int, end_ns: int) -> list[ConnectivityEvent]:
        """Connectivity events in ``[start_ns, end_ns)``, sorted by (ts_ns, equipment, source)."""
        check_range(start_ns, end_ns)
        equipment_ids = list(equipment_ids)
        self._before_read()
        if not equipment_ids or start_ns == end_ns:
            return []
        # one event per (ts, equipment, source): the last written, InfluxDB's rule, applied to DuckDB too
        unique: dict[tuple[int, str, str], ConnectivityEvent] = {}
        for ts_ns, equipment, source, connected, detail in self._query_connectivity(equipment_ids, start_ns, end_ns):
            key = (int(ts_ns), equipment, source)
            unique[key] = ConnectivityEvent(*key, bool(connected), detail or "")
        return sorted(unique.values(), key=lambda e: (e.ts_ns, e.equipment, e.source))

    def latest(self, measurement: str, equipment_ids: Sequence[str]) -> Latest:
        """Newest GOOD value of every field of each equipment (an empty dict when it has none)."""
        check_measurement(measurement)
        return self._latest.get(measurement, list(equipment_ids))

    # ------------------------------------------------------------------ the KPI ledger

    def write_ledger(self, rows: Sequence[LedgerRow]) -> None:
        """Keep ledger rows, one per (shift start, equipment): a row replaces the one kept with its key.

        All rows of one call are kept, or none is, and once this returns they
        survive a kill: DuckDB has committed them; InfluxDB has them fsynced in
        its spool, which delivers them in the background (``flush()`` before
        reading them back through the server, as for samples).

        Raises ValueError for what is not a row, or for two rows with one key in
        one call; :class:`StoreUnavailable`, with the reason, when they cannot be
        kept now (disk full): then write them again later, which is always safe.
        """
        records = prepare_ledger(rows)
        if records:
            self._write_ledger(records)

    def read_ledger(self, start_ns: int, end_ns: int, equipment_ids: Sequence[str] | None = None) -> list[LedgerRow]:
        """Ledger rows of the shifts that START in ``[start_ns, end_ns)``, sorted by (shift start, equipment).

        ``equipment_ids=None``: every equipment's. Independent of the samples:
        a ledger read neither waits for nor fails with a sample commit.
        """
        check_range(start_ns, end_ns)
        ids = None if equipment_ids is None else check_equipment_ids(equipment_ids)
        if ids == [] or start_ns == end_ns:
            return []
        rows: dict[tuple[int, str], LedgerRow] = {}
        if self._decoded_rows is None:
            self._decoded_rows = DecodedRows()
        for record in self._query_ledger(start_ns, end_ns, ids):
            try:
                row = self._decoded_rows.get(record, decode)
            except LedgerFormatError as exc:
                raise StoreError(f"{self.describe()}: cannot read the ledger: {exc}") from None
            rows[row.key] = row
        return [rows[key] for key in sorted(rows)]

    # ------------------------------------------------------------------ raw retention
    # Raw samples older than [storage] raw_retention_days go once their shifts are in the ledger (docs/storage.md,
    # "Raw retention"). The embedded store deletes them when the serving process says so; an InfluxDB server drops
    # them itself, by the bucket's retention policy.

    def raw_kept_since_ns(self, now_ns: int) -> int | None:
        """From when on this store holds every raw sample it was given, as of ``now_ns``; None: since the start."""
        return None

    def oldest_raw_ns(self) -> int | None:
        """The oldest printer or robot sample kept (None: none, or the store cannot tell cheaply)."""
        return None

    def drop_raw_before(self, cutoff_ns: int) -> RawDrop | None:
        """Delete the printer, robot and quality rows before ``cutoff_ns``, keeping per (equipment, field) the
        last sample before it: a shift from ``cutoff_ns`` on still reads its context (docs/kpi.md, "Context").
        Connectivity events stay (a handful a day; a link down since before the cutoff is still down after it).

        The caller makes sure the ledger holds every shift before ``cutoff_ns``. None: this store's server drops
        old samples itself (InfluxDB: a retention policy), nothing was done here.
        """
        return None

    def ensure_retention(self) -> str | None:
        """Make the server drop raw samples older than the retention by itself, keeping the ledger (InfluxDB: two
        retention policies); what was set up, for the log, or None where there is nothing to set up. Idempotent.
        Raises StoreError when it cannot be done now (the server down, or not allowed): the caller retries."""
        return None

    def compact(self, *, min_free_bytes: int, min_free_fraction: float = 0.5) -> Compaction | None:
        """Give free space back to the disk when at least ``min_free_bytes`` and ``min_free_fraction`` of the file
        are free (after a large drop); None when not worth it, or not this store's business (a server)."""
        return None

    @abstractmethod
    def _write_ledger(self, records: list[LedgerRecord]) -> None:
        """Keep checked, encoded rows with distinct keys, all or none, durably; replace rows of the same key."""

    @abstractmethod
    def _query_ledger(
        self, start_ns: int, end_ns: int, equipment_ids: list[str] | None
    ) -> Iterable[Mapping[str, object]]:
        """The ledger records whose shift starts in ``[start_ns, end_ns)`` (of ``equipment_ids``, None: all)."""

    @abstractmethod
    def _before_read(self) -> None:
        """Ready the store for a read, once the arguments check out: DuckDB commits what was written (a read sees
        it); either raises :class:`StoreUnavailable` while it cannot keep what it is given (a 503 with the reason)."""

    @abstractmethod
    def _query_series(
        self, measurement: str, equipment_ids: list[str], fields: list[str] | None, start_ns: int, end_ns: int
    ) -> SeriesRows:
        """The backend's query for :meth:`read_series`, on checked arguments that can match something."""

    @abstractmethod
    def _count_samples(
        self, measurement: str, equipment_ids: list[str], fields: list[str], start_ns: int, end_ns: int
    ) -> Iterable[tuple[str, int]]:
        """(equipment, count) pairs for :meth:`count_samples` (several pairs per equipment are summed)."""

    @abstractmethod
    def _query_neighbours(
        self,
        measurement: str,
        equipment_ids: list[str],
        fields: list[str],
        lo_ns: int | None,
        hi_ns: int | None,
        *,
        last: bool,
    ) -> SeriesRows:
        """Per (equipment, field) with data in ``[lo_ns, hi_ns)`` (None: unbounded on that side), every row at its
        last (``last``) or first timestamp there, in write order."""

    @abstractmethod
    def _query_quality(
        self, equipment_ids: list[str], fields: list[str] | None, start_ns: int, end_ns: int
    ) -> QualityRows:
        """The backend's query for :meth:`read_quality`, on checked arguments that can match something."""

    @abstractmethod
    def _query_connectivity(self, equipment_ids: list[str], start_ns: int, end_ns: int) -> ConnectivityRows:
        """The backend's query for :meth:`read_connectivity`, on checked arguments that can match something."""

    def __enter__(self) -> SampleStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _concat_rows(parts: list[SeriesRows]) -> SeriesRows:
    if not parts:
        return empty_series_rows()
    return (
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
        np.concatenate([p[2] for p in parts]),
        np.concatenate([p[3] for p in parts]),
    )


def empty_series_rows() -> SeriesRows:
    return (np.empty(0, object), np.empty(0, object), np.empty(0, np.int64), np.empty(0, np.float64))


def empty_quality_rows() -> QualityRows:
    return (np.empty(0, np.int64), np.empty(0, object), np.empty(0, object), np.empty(0, np.uint8), np.empty(0, object))
