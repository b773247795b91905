"""The embedded default: one DuckDB file, narrow tables, numpy in and out.

Layout (one file per plant; the plant id is checked on open)::

    printer(ts_ns BIGINT, equipment VARCHAR, field VARCHAR, value DOUBLE)
    robot(ts_ns BIGINT, fleet VARCHAR, equipment VARCHAR, field VARCHAR, value DOUBLE)
    quality(ts_ns BIGINT, equipment VARCHAR, field VARCHAR, code UTINYINT, detail VARCHAR)
    connectivity(ts_ns BIGINT, equipment VARCHAR, source VARCHAR, connected BOOLEAN, detail VARCHAR)

Collector batches are small (one poll: a few dozen samples), and a DuckDB
statement costs far more than a few dozen rows, so ``write`` appends the
batch's numpy columns to an in-memory buffer and a background thread commits
the buffer every ``flush_interval_s`` (or sooner when it grows past
``max_buffer_rows``) with one ``INSERT … SELECT * FROM <registered numpy
columns>`` per table, in one transaction. A killed process loses at most the
last flush interval; ``close`` commits everything. A batch that breaks the
data contract is refused whole (``ValueError``) and set aside, with the
reason, in ``<file>.dead-letter.jsonl`` (:mod:`store.refused`).

Concurrency: DuckDB lets one process open a file for writing, and while it
does, no other process can open it at all. Collectors and the API therefore
share one store in one process; each thread reads through its own cursor
(``connection.cursor()``), and DuckDB's MVCC gives readers a consistent
snapshot while the flusher commits. Another process gets a StoreError that
says so (use the InfluxDB backend to read from several processes, or open
with ``read_only=True`` while no writer runs).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from models.contract import MEASUREMENT_ROBOT
from models.samples import ConnectivityEvent, SampleBatch
from store.assemble import assemble_series, sort_quality
from store.base import Latest, QualityLog, SampleStore, SeriesMap, StoreError
from store.latest import LatestCache
from store.prepare import KnownFields, check_events, check_measurement, check_range, prepare_batch
from store.refused import RefusedBatches
from store.spool import DeadLetters

log = logging.getLogger(__name__)

SCHEMA_VERSION = "1"
_TABLES: dict[str, tuple[str, ...]] = {
    "printer": (
        "ts_ns BIGINT NOT NULL",
        "equipment VARCHAR NOT NULL",
        "field VARCHAR NOT NULL",
        "value DOUBLE NOT NULL",
    ),
    "robot": (
        "ts_ns BIGINT NOT NULL",
        "fleet VARCHAR NOT NULL",
        "equipment VARCHAR NOT NULL",
        "field VARCHAR NOT NULL",
        "value DOUBLE NOT NULL",
    ),
    "quality": (
        "ts_ns BIGINT NOT NULL",
        "equipment VARCHAR NOT NULL",
        "field VARCHAR NOT NULL",
        "code UTINYINT NOT NULL",
        "detail VARCHAR NOT NULL",
    ),
    "connectivity": (
        "ts_ns BIGINT NOT NULL",
        "equipment VARCHAR NOT NULL",
        "source VARCHAR NOT NULL",
        "connected BOOLEAN NOT NULL",
        "detail VARCHAR NOT NULL",
    ),
}
Columns = dict[str, np.ndarray[Any, Any]]


class DuckDBStore(SampleStore):
    def __init__(
        self,
        path: Path | str,
        plant_id: str,
        *,
        flush_interval_s: float = 1.0,
        max_buffer_rows: int = 500_000,
        read_only: bool = False,
        threads: int | None = None,
        known_fields: KnownFields | None = None,
    ) -> None:
        self.plant_id = plant_id
        self.path = Path(path)
        self.known_fields = known_fields
        # A batch that breaks the contract is refused whole; it is kept here, beside the file, with the reason.
        self.refused = RefusedBatches(DeadLetters(self.path.with_name(self.path.name + ".dead-letter.jsonl")), log)
        self.flush_interval_s = flush_interval_s
        self.max_buffer_rows = max_buffer_rows
        self.read_only = read_only
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            config: dict[str, str | bool | int | float | list[str]] = {"threads": threads} if threads else {}
            self._con = duckdb.connect(str(self.path), read_only=read_only, config=config)
        except duckdb.IOException as exc:
            raise StoreError(
                f"cannot open DuckDB file {self.path}: {exc}. DuckDB allows one process per file while it is"
                " written: run collectors and API in one process (shopfloor run), or use the InfluxDB backend"
            ) from None
        self._writer = self._con.cursor()
        self._db_lock = threading.Lock()  # one transaction at a time through the writer cursor
        self._buffer_lock = threading.Lock()
        self._buffer: dict[str, list[Columns]] = {t: [] for t in _TABLES}
        self._buffered_rows = 0
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._cursors_lock = threading.Lock()
        self._closed = False
        self._init_schema()
        self._latest = LatestCache(self._seed_latest)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None
        if not read_only:
            self._flusher = threading.Thread(
                target=self._flush_loop, name=f"duckdb-flush:{self.path.name}", daemon=True
            )
            self._flusher.start()

    # ------------------------------------------------------------------ setup

    def _init_schema(self) -> None:
        with self._db_lock:
            cur = self._writer
            if not self.read_only:
                cur.execute("CREATE TABLE IF NOT EXISTS meta(key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)")
                for table, columns in _TABLES.items():
                    cur.execute(f"CREATE TABLE IF NOT EXISTS {table}({', '.join(columns)})")
                cur.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('plant_id', ?), ('schema_version', ?)",
                    [self.plant_id, SCHEMA_VERSION],
                )
            rows = dict(cur.execute("SELECT key, value FROM meta").fetchall())
        if rows.get("plant_id") != self.plant_id:
            self._con.close()
            raise StoreError(f"DuckDB file {self.path} holds plant {rows.get('plant_id')!r}, not {self.plant_id!r}")
        if rows.get("schema_version") != SCHEMA_VERSION:
            self._con.close()
            raise StoreError(
                f"DuckDB file {self.path} has schema {rows.get('schema_version')!r}, this code reads {SCHEMA_VERSION!r}"
            )

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's own cursor (DuckDB connections are not shared between threads)."""
        if self._closed:
            raise StoreError("store is closed")
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._con.cursor()
            self._local.cursor = cur
            with self._cursors_lock:
                self._cursors.append(cur)
        return cur

    # ------------------------------------------------------------------ writes

    def write(self, batch: SampleBatch) -> None:
        self._check_writable()
        try:
            p = prepare_batch(batch, self.known_fields)
        except ValueError as exc:
            raise self.refused.refuse(batch, exc) from exc
        chunks: list[tuple[str, Columns]] = []
        if len(p.ts_ns):
            cols: Columns = {"ts_ns": p.ts_ns}
            if p.measurement == MEASUREMENT_ROBOT:
                cols["fleet"] = np.full(len(p.ts_ns), p.fleet, dtype=object)
            cols.update(equipment=p.equipment, field=p.field, value=p.value)
            chunks.append((p.measurement, cols))
        if len(p.q_ts_ns):
            chunks.append(
                (
                    "quality",
                    {
                        "ts_ns": p.q_ts_ns,
                        "equipment": p.q_equipment,
                        "field": p.q_field,
                        "code": p.q_code,
                        "detail": p.q_detail,
                    },
                )
            )
        self._append(chunks)
        self._latest.update(p.measurement, p.equipment, p.field, p.ts_ns, p.value)

    def write_connectivity(self, events: Sequence[ConnectivityEvent]) -> None:
        self._check_writable()
        check_events(events)
        if not events:
            return
        cols: Columns = {
            "ts_ns": np.array([e.ts_ns for e in events], dtype=np.int64),
            "equipment": np.array([e.equipment for e in events], dtype=object),
            "source": np.array([e.source for e in events], dtype=object),
            "connected": np.array([bool(e.connected) for e in events], dtype=bool),
            "detail": np.array([e.detail or "" for e in events], dtype=object),
        }
        self._append([("connectivity", cols)])

    def _check_writable(self) -> None:
        if self._closed:
            raise StoreError("store is closed")
        if self.read_only:
            raise StoreError(f"DuckDB file {self.path} is open read-only")

    def _append(self, chunks: list[tuple[str, Columns]]) -> None:
        if not chunks:
            return
        with self._buffer_lock:
            for table, cols in chunks:
                self._buffer[table].append(cols)
                self._buffered_rows += len(cols["ts_ns"])
            full = self._buffered_rows >= self.max_buffer_rows
        if full:
            self._wake.set()

    def flush(self, timeout_s: float | None = None) -> bool:
        if self.read_only or self._closed:
            return True
        with self._db_lock:
            with self._buffer_lock:
                taken, self._buffer = self._buffer, {t: [] for t in _TABLES}
                self._buffered_rows = 0
            if not any(taken.values()):
                return True
            try:
                self._insert(taken)
            except Exception:
                # Put it back in front, so the next flush retries in order; nothing is dropped.
                with self._buffer_lock:
                    for table, chunks in taken.items():
                        self._buffer[table][:0] = chunks
                        self._buffered_rows += sum(len(c["ts_ns"]) for c in chunks)
                raise
        return True

    def _insert(self, taken: dict[str, list[Columns]]) -> None:
        cur = self._writer
        cur.execute("BEGIN TRANSACTION")
        try:
            for table, chunks in taken.items():
                if not chunks:
                    continue
                columns = {name: np.concatenate([c[name] for c in chunks]) for name in chunks[0]}
                view = f"_incoming_{table}"
                cur.register(view, columns)
                try:
                    cur.execute(f"INSERT INTO {table} SELECT * FROM {view}")
                finally:
                    cur.unregister(view)
            cur.execute("COMMIT")
        except Exception:
            cur.execute("ROLLBACK")
            raise

    def _flush_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_interval_s)
            self._wake.clear()
            try:
                self.flush()
            except Exception:
                log.exception("DuckDB flush to %s failed; samples stay buffered and are retried", self.path)

    def close(self) -> None:
        if self._closed:
            return
        self._stop.set()
        self._wake.set()
        if self._flusher is not None:
            self._flusher.join()
        self.flush()  # the flusher may have stopped between a write and its next pass
        self._closed = True
        with self._cursors_lock:
            for cur in self._cursors:
                cur.close()
            self._cursors.clear()
        self._writer.close()
        self._con.close()

    # ------------------------------------------------------------------ reads

    def read_series(
        self,
        measurement: str,
        equipment_ids: Sequence[str],
        fields: Sequence[str] | None,
        start_ns: int,
        end_ns: int,
    ) -> SeriesMap:
        check_measurement(measurement)
        check_range(start_ns, end_ns)
        equipment_ids, fields = list(equipment_ids), None if fields is None else list(fields)
        self.flush()  # read-your-writes: what the caller wrote is in the result
        sql = (
            f"SELECT equipment, field, ts_ns, value FROM {measurement}"
            " WHERE ts_ns >= ? AND ts_ns < ? AND equipment IN (SELECT unnest(?))"
        )
        params: list[Any] = [start_ns, end_ns, equipment_ids]
        if fields is not None:
            sql += " AND field IN (SELECT unnest(?))"
            params.append(fields)
        # rowid keeps write order among equal timestamps (last written wins)
        data = self._cursor().execute(sql + " ORDER BY equipment, field, ts_ns, rowid", params).fetchnumpy()
        return assemble_series(
            equipment_ids,
            fields,
            data["equipment"],
            data["field"],
            data["ts_ns"].astype(np.int64, copy=False),
            data["value"].astype(np.float64),
        )

    def read_quality(
        self,
        equipment_ids: Sequence[str],
        start_ns: int,
        end_ns: int,
        fields: Sequence[str] | None = None,
    ) -> QualityLog:
        check_range(start_ns, end_ns)
        self.flush()
        sql = (
            "SELECT ts_ns, equipment, field, code, detail FROM quality"
            " WHERE ts_ns >= ? AND ts_ns < ? AND equipment IN (SELECT unnest(?))"
        )
        params: list[Any] = [start_ns, end_ns, list(equipment_ids)]
        if fields is not None:
            sql += " AND field IN (SELECT unnest(?))"
            params.append(list(fields))
        d = self._cursor().execute(sql + " ORDER BY rowid", params).fetchnumpy()
        return sort_quality(
            d["ts_ns"].astype(np.int64, copy=False), d["equipment"], d["field"], d["code"].astype(np.uint8), d["detail"]
        )

    def read_connectivity(self, equipment_ids: Sequence[str], start_ns: int, end_ns: int) -> list[ConnectivityEvent]:
        check_range(start_ns, end_ns)
        self.flush()
        rows = (
            self._cursor()
            .execute(
                "SELECT ts_ns, equipment, source, connected, detail FROM connectivity"
                " WHERE ts_ns >= ? AND ts_ns < ? AND equipment IN (SELECT unnest(?))"
                " ORDER BY ts_ns, equipment, source, rowid",
                [start_ns, end_ns, list(equipment_ids)],
            )
            .fetchall()
        )
        # one event per (ts, equipment, source): the last written, as in InfluxDB
        unique: dict[tuple[int, str, str], ConnectivityEvent] = {}
        for ts, equipment, source, connected, detail in rows:
            unique[(ts, equipment, source)] = ConnectivityEvent(int(ts), equipment, source, bool(connected), detail)
        return list(unique.values())

    def latest(self, measurement: str, equipment_ids: Sequence[str]) -> Latest:
        check_measurement(measurement)
        return self._latest.get(measurement, list(equipment_ids))

    def _seed_latest(self, measurement: str, equipment_ids: Sequence[str]) -> list[tuple[str, str, int, float]]:
        rows = (
            self._cursor()
            .execute(
                f"SELECT equipment, field, max(ts_ns), arg_max(value, ts_ns) FROM {measurement}"
                " WHERE equipment IN (SELECT unnest(?)) GROUP BY equipment, field",
                [list(equipment_ids)],
            )
            .fetchall()
        )
        return [(e, f, int(ts), float(v)) for e, f, ts, v in rows]
