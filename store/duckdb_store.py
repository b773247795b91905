"""The embedded default: one DuckDB file, narrow tables, numpy in and out.

Layout (one file per plant; the plant id is checked on open)::

    printer(ts_ns BIGINT, equipment VARCHAR, field VARCHAR, value DOUBLE)
    robot(ts_ns BIGINT, fleet VARCHAR, equipment VARCHAR, field VARCHAR, value DOUBLE)
    quality(ts_ns BIGINT, equipment VARCHAR, field VARCHAR, code UTINYINT, detail VARCHAR)
    connectivity(ts_ns BIGINT, equipment VARCHAR, source VARCHAR, connected BOOLEAN, detail VARCHAR)
    ledger(shift_start_ns BIGINT, equipment VARCHAR, …, payload VARCHAR,
           PRIMARY KEY (shift_start_ns, equipment))     the KPI ledger (models/ledger.py)

Collector batches are small (one poll: a few dozen samples), and a DuckDB
statement costs far more than a few dozen rows, so ``write`` appends the
batch's numpy columns to an in-memory buffer and a background thread commits
the buffer every ``flush_interval_s`` (or sooner when it grows past
``max_buffer_rows``) with one ``INSERT … SELECT * FROM <registered numpy
columns>`` per table, in one transaction. A killed process loses at most the
last flush interval; ``close`` commits everything. A batch that breaks the
data contract is refused whole (``ValueError``) and set aside, with the
reason, in ``<file>.dead-letter.jsonl`` (:mod:`store.refused`).

A full disk (docs/storage.md, "When the disk is full"): the buffer
(:mod:`store.pending`) keeps what cannot be committed, up to a bound past
which batches are dropped and counted; the flusher retries in pieces; each
transaction writes a commit marker so a failure DuckDB reports after a
durable commit is neither lost nor stored twice; a database DuckDB
invalidated (a failed checkpoint) is reopened; the condition is logged as one
outage and reported by :meth:`health`, and reads raise ``StoreUnavailable``
with the reason while it lasts.

The KPI ledger is not a sample stream: a ledger write is its own transaction
(``INSERT OR REPLACE``, all rows of the call), committed before the call
returns, never through the buffer. A file written before the ledger existed
gains the table when it is opened for writing (the schema version stays: the
other tables are unchanged, and older code ignores the table).

Concurrency: DuckDB lets one process open a file for writing, and while it
does, no other process can open it at all. Collectors and the API therefore
share one store in one process; each thread reads through its own cursor
(``connection.cursor()``), and DuckDB's MVCC gives readers a consistent
snapshot while the flusher commits. Another process gets a StoreError that
says so (use the InfluxDB backend to read from several processes, or open
with ``read_only=True`` while no writer runs).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from shopfloor.models.contract import MEASUREMENT_ROBOT
from shopfloor.models.ledger import RECORD_COLUMNS, LedgerRecord
from shopfloor.models.plant import DEFAULT_MAX_UNSAVED_SAMPLES
from shopfloor.models.samples import ConnectivityEvent, SampleBatch
from shopfloor.store.base import (
    Compaction,
    ConnectivityRows,
    QualityRows,
    RawDrop,
    SampleStore,
    SeriesRows,
    StoreError,
    StoreHealth,
    StoreUnavailable,
)
from shopfloor.store.dead_letters import DeadLetters
from shopfloor.store.diagnose import cannot_open, damaged, disk_full, is_damaged, is_disk_full, one_line
from shopfloor.store.latest import LatestCache
from shopfloor.store.outage import DEFAULT_PERIOD_S, OutageLog
from shopfloor.store.pending import Columns, PendingRows, Piece
from shopfloor.store.prepare import KnownFields, check_events, prepare_batch
from shopfloor.store.refused import RefusedBatches

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

# Raw retention deletes from these (and from quality); connectivity events are kept.
_SAMPLE_TABLES = ("printer", "robot")
# Everything before the cutoff but each (equipment, field)'s last timestamp before it: that sample is the context of
# the first shift kept (its state at the start, the reading its first increment starts from).
_DROP_KEEPING_CONTEXT = (
    "DELETE FROM {table} USING (SELECT equipment, field, max(ts_ns) AS last_ns FROM {table} WHERE ts_ns < $1"
    " GROUP BY equipment, field) AS edge"
    " WHERE {table}.equipment = edge.equipment AND {table}.field = edge.field AND {table}.ts_ns < edge.last_ns"
)

LEDGER_TABLE = "ledger"
LEDGER_FETCH_ROWS = 2048  # ledger records fetched at a time
# models.ledger's record, column for column (RECORD_COLUMNS order); crew and fleet may be NULL.
_LEDGER_COLUMNS: dict[str, str] = {
    "shift_start_ns": "BIGINT NOT NULL",
    "equipment": "VARCHAR NOT NULL",
    "shift_end_ns": "BIGINT NOT NULL",
    "shift_key": "VARCHAR NOT NULL",
    "crew": "VARCHAR",
    "kind": "VARCHAR NOT NULL",
    "fleet": "VARCHAR",
    "plant_version": "VARCHAR NOT NULL",
    "annotation_version": "BIGINT NOT NULL",
    "watermark_ns": "BIGINT NOT NULL",
    "samples_read": "BIGINT NOT NULL",
    "computed_ns": "BIGINT NOT NULL",
    "payload": "VARCHAR NOT NULL",
}
if tuple(_LEDGER_COLUMNS) != RECORD_COLUMNS:
    raise RuntimeError(f"the ledger table's columns {tuple(_LEDGER_COLUMNS)} differ from the record's {RECORD_COLUMNS}")
_LEDGER_DDL = (
    f"CREATE TABLE IF NOT EXISTS {LEDGER_TABLE}("
    + ", ".join(f"{name} {kind}" for name, kind in _LEDGER_COLUMNS.items())
    + ", PRIMARY KEY (shift_start_ns, equipment))"
)


class DuckDBStore(SampleStore):
    kind = "DuckDBStore"

    def __init__(
        self,
        path: Path | str,
        plant_id: str,
        *,
        flush_interval_s: float = 1.0,
        max_buffer_rows: int = 500_000,
        max_unsaved_samples: int = DEFAULT_MAX_UNSAVED_SAMPLES,
        read_only: bool = False,
        threads: int | None = None,
        known_fields: KnownFields | None = None,
        outage_log_period_s: float = DEFAULT_PERIOD_S,
        clock: Callable[[], float] = time.monotonic,
        duckdb_config: dict[str, Any] | None = None,
    ) -> None:
        """``max_buffer_rows``: commit early past this many rows, and at most this many per table per transaction.
        ``max_unsaved_samples``: the memory bound while commits fail (beyond it, batches are dropped and counted).
        ``outage_log_period_s`` and ``clock`` pace the "still failing" log line (tests shorten or drive them).
        ``duckdb_config``: further DuckDB settings (tests make checkpoints frequent with ``checkpoint_threshold``)."""
        self.plant_id = plant_id
        self.path = Path(path)
        self.known_fields = known_fields
        # A batch that breaks the contract is refused whole; it is kept here, beside the file, with the reason.
        self.refused = RefusedBatches(DeadLetters(self.path.with_name(self.path.name + ".dead-letter.jsonl")), log)
        self.flush_interval_s = flush_interval_s
        self.max_buffer_rows = max_buffer_rows
        self.read_only = read_only
        self._config: dict[str, Any] = {**({"threads": threads} if threads else {}), **(duckdb_config or {})}
        # Commits failing (a full disk): said at the start, once a period while it lasts, and at the end.
        self.outage = OutageLog(log, f"DuckDB file {self.path}", period_s=outage_log_period_s, clock=clock)
        self.reopens = 0  # after DuckDB invalidated the database (a failed checkpoint), for tests and diagnosis
        self._read_errors = OutageLog(
            log, f"reading DuckDB file {self.path}", period_s=outage_log_period_s, clock=clock
        )
        self._ledger_errors = OutageLog(
            log, f"writing the ledger to DuckDB file {self.path}", period_s=outage_log_period_s, clock=clock
        )
        self._has_ledger = False  # a file opened read-only may predate the ledger table
        self._kept_since: int | None = None  # meta 'raw_kept_since_ns': where the last raw drop cut
        self._compacting = False  # a copy holds the writer: reads read what is committed, without their flush
        self._swapping = False  # the compacted file is being put in place: reads wait (for well under a second)
        self._pending = PendingRows(_TABLES, max_unsaved_samples, clock)
        self._problem: str | None = None  # why commits fail now (None: they work)
        self._dropping = False  # the memory bound was reached during this outage (said once)
        self._seq = 0  # the commit marker: meta 'flush_seq' of the last transaction known committed
        self._in_doubt: int | None = None  # marker of a piece whose commit failed in a way that may have committed
        self._db_lock = threading.Lock()  # one transaction at a time through the writer cursor
        self._gate = threading.Condition()  # readers in flight, so a reopen never closes a cursor in use
        self._readers = 0
        self._must_reopen = False
        self._generation = 0  # bumped by a reopen: threads' cursors of an older connection are replaced
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._closed = False
        self._created = False
        self._con: duckdb.DuckDBPyConnection | None = self._open()
        self._writer = self._con.cursor()
        try:
            self._init_schema()
            self._verify()
        except (duckdb.Error, StoreError) as exc:
            self._drop_connection()
            self._remove_if_created()
            if isinstance(exc, StoreError):
                raise
            raise StoreError(self._cannot_open(exc)) from None
        self._latest = LatestCache(self._seed_latest)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None
        if not read_only:
            self._flusher = threading.Thread(
                target=self._flush_loop, name=f"duckdb-flush:{self.path.name}", daemon=True
            )
            self._flusher.start()

    def describe(self) -> str:
        return f"embedded DuckDB {self.path.resolve()}"

    # ------------------------------------------------------------------ setup

    def _open(self) -> duckdb.DuckDBPyConnection:
        if not self.read_only:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(cannot_open("DuckDB file", self.path, exc)) from None
            self._created = not self.path.exists()
        try:
            return duckdb.connect(str(self.path), read_only=self.read_only, config=self._config)
        except duckdb.Error as exc:
            self._remove_if_created()
            raise StoreError(self._cannot_open(exc)) from None

    def _remove_if_created(self) -> None:
        """A file this open began (on a full disk, say) would read as damaged next time: it is ours, remove it."""
        if self._created:
            for leftover in (self.path, self.path.with_name(self.path.name + ".wal")):
                leftover.unlink(missing_ok=True)

    def _cannot_open(self, exc: BaseException) -> str:
        return cannot_open("DuckDB file", self.path, exc, also=" (with its .wal, if any)")

    def _init_schema(self) -> None:
        cur = self._writer
        if not self.read_only:
            cur.execute("CREATE TABLE IF NOT EXISTS meta(key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)")
            for table, columns in _TABLES.items():
                cur.execute(f"CREATE TABLE IF NOT EXISTS {table}({', '.join(columns)})")
            cur.execute(_LEDGER_DDL)
            cur.execute(
                "INSERT OR IGNORE INTO meta VALUES ('plant_id', ?), ('schema_version', ?), ('flush_seq', '0')",
                [self.plant_id, SCHEMA_VERSION],
            )
        rows = dict(cur.execute("SELECT key, value FROM meta").fetchall())
        if rows.get("plant_id") != self.plant_id:
            raise StoreError(f"DuckDB file {self.path} holds plant {rows.get('plant_id')!r}, not {self.plant_id!r}")
        if rows.get("schema_version") != SCHEMA_VERSION:
            raise StoreError(
                f"DuckDB file {self.path} has schema {rows.get('schema_version')!r}, this code reads {SCHEMA_VERSION!r}"
            )
        self._seq = int(rows.get("flush_seq", 0))
        kept = rows.get("raw_kept_since_ns")
        self._kept_since = None if kept is None else int(kept)
        self._has_ledger = bool(
            cur.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = ?", [LEDGER_TABLE]
            ).fetchall()[0][0]
        )
        if not self.read_only:
            # A real commit at start: on a full disk the command stops here with one clear line, instead of
            # starting and failing on its first flush.
            cur.execute("INSERT OR REPLACE INTO meta VALUES ('opened_ns', ?)", [str(time.time_ns())])

    def _verify(self) -> None:
        """Read every block once: DuckDB checks each block's checksum as it loads it, so damage anywhere in the
        file stops the start with a clear line instead of failing the first query that reaches it."""
        for table, columns in _TABLES.items():
            names = ", ".join(c.split()[0] for c in columns)
            self._writer.execute(f"SELECT count(*), bit_xor(hash({names})) FROM {table}").fetchall()
        if self._has_ledger:
            names = ", ".join(_LEDGER_COLUMNS)
            self._writer.execute(f"SELECT count(*), bit_xor(hash({names})) FROM {LEDGER_TABLE}").fetchall()

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's own cursor (DuckDB connections are not shared between threads)."""
        if self._closed:
            raise StoreError("store is closed")
        mine = getattr(self._local, "cursor", None)
        if mine is None or mine[0] != self._generation:
            assert self._con is not None  # _reading() checked, under the gate
            cur = self._con.cursor()
            self._local.cursor = (self._generation, cur)
            self._cursors.append(cur)
            return cur
        return mine[1]

    @contextlib.contextmanager
    def _reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor for one read; DuckDB's errors about the file become a StoreUnavailable saying what to do."""
        with self._gate:
            while self._swapping:
                self._gate.wait()
            if self._con is None or self._must_reopen:
                raise StoreUnavailable(self._unavailable(self._problem or f"DuckDB file {self.path} is being reopened"))
            self._readers += 1
            try:
                cur = self._cursor()
            except BaseException:
                self._readers -= 1
                raise
        try:
            yield cur
        except duckdb.Error as exc:
            if isinstance(exc, duckdb.FatalException):
                self._must_reopen = True  # DuckDB invalidated the database; the flusher reopens it
            elif not (is_damaged(exc) or is_disk_full(exc) or isinstance(exc, duckdb.IOException)):
                raise  # a bug in a query, not the file: a 500 with its traceback
            reason = self._problem_of(exc)
            self._read_errors.failed(reason)
            raise StoreUnavailable(reason) from None
        finally:
            with self._gate:
                self._readers -= 1
                self._gate.notify_all()

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
                # fill(), not np.full(): np.full makes a str object per row (~57 bytes each) where fill()
                # repeats one reference, which matters for what an outage keeps in memory.
                fleet = np.empty(len(p.ts_ns), dtype=object)
                fleet.fill(p.fleet)
                cols["fleet"] = fleet
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
        # The live value stands even if the batch was dropped: the display shows what the machine does now.
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

    def _write_ledger(self, records: list[LedgerRecord]) -> None:
        self._check_writable()
        plain: Sequence[Mapping[str, object]] = records  # read by column name
        columns = {
            name: np.array([record[name] for record in plain], dtype=np.int64 if kind.startswith("BIGINT") else object)
            for name, kind in _LEDGER_COLUMNS.items()
        }
        # The writer cursor is the flusher's too: one transaction at a time. Not the sample buffer: a ledger
        # row is committed before the call returns, whatever the samples are doing.
        with self._db_lock:
            try:
                self._recover()  # a database DuckDB invalidated is reopened first
                cur = self._writer
                cur.execute("BEGIN TRANSACTION")
                try:
                    view = f"_incoming_{LEDGER_TABLE}"
                    cur.register(view, columns)
                    try:
                        cur.execute(f"INSERT OR REPLACE INTO {LEDGER_TABLE} SELECT * FROM {view}")
                    finally:
                        with contextlib.suppress(duckdb.Error):
                            cur.unregister(view)
                    cur.execute("COMMIT")
                except BaseException:
                    # as in _insert: DuckDB ends a transaction whose COMMIT failed by itself
                    with contextlib.suppress(duckdb.Error):
                        cur.execute("ROLLBACK")
                    raise
            except StoreUnavailable as exc:
                self._ledger_errors.failed(str(exc))
                raise StoreUnavailable(f"{exc}; the ledger rows may not be kept: write them again") from None
            except duckdb.Error as exc:
                if isinstance(exc, duckdb.FatalException):
                    self._must_reopen = True  # DuckDB invalidated the database; reopened on the next attempt
                elif not (is_damaged(exc) or is_disk_full(exc) or isinstance(exc, duckdb.IOException)):
                    raise  # a bug in the statement, not the file
                # "may": a failed autocheckpoint can follow a durable commit; writing the rows again is harmless
                reason = self._problem_of(exc)
                self._ledger_errors.failed(reason)
                raise StoreUnavailable(f"{reason}; the ledger rows may not be kept: write them again") from None
        self._ledger_errors.recovered()

    # ------------------------------------------------------------------ raw retention

    def raw_kept_since_ns(self, now_ns: int) -> int | None:
        return self._kept_since

    def oldest_raw_ns(self) -> int | None:
        with self._reading() as cur:
            found = [cur.execute(f"SELECT min(ts_ns) FROM {table}").fetchall()[0][0] for table in _SAMPLE_TABLES]
        return min((int(ts) for ts in found if ts is not None), default=None)

    def drop_raw_before(self, cutoff_ns: int) -> RawDrop:
        self._check_writable()
        cutoff_ns = int(cutoff_ns)
        self.flush()  # what waits in memory is committed first, so it is dropped with the rest if it is that old
        deleted: dict[str, int] = {}
        with self._db_lock:
            try:
                self._recover()
                cur = self._writer
                cur.execute("BEGIN TRANSACTION")
                try:
                    for table in _SAMPLE_TABLES:
                        deleted[table] = int(
                            cur.execute(_DROP_KEEPING_CONTEXT.format(table=table), [cutoff_ns]).fetchall()[0][0]
                        )
                    deleted["quality"] = int(
                        cur.execute("DELETE FROM quality WHERE ts_ns < ?", [cutoff_ns]).fetchall()[0][0]
                    )
                    kept_since = max(cutoff_ns, self._kept_since or cutoff_ns)
                    cur.execute("INSERT OR REPLACE INTO meta VALUES ('raw_kept_since_ns', ?)", [str(kept_since)])
                    cur.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(duckdb.Error):  # as in _insert: a failed COMMIT ends the transaction
                        cur.execute("ROLLBACK")
                    raise
                self._kept_since = kept_since
                # The deleted rows' blocks become free at a checkpoint, and new samples reuse them (the file does not
                # shrink: docs/storage.md, "Raw retention"). FORCE: it waits for reads in flight instead of failing.
                cur.execute("FORCE CHECKPOINT")
            except duckdb.Error as exc:
                raise StoreUnavailable(
                    f"{self._file_problem(exc)}; raw samples before the cutoff are kept for now"
                ) from None
        file_bytes, free_bytes = self.space()
        return RawDrop(cutoff_ns, deleted, file_bytes, free_bytes)

    def compact(self, *, min_free_bytes: int, min_free_fraction: float = 0.5) -> Compaction | None:
        """Copy the database into a new file and put it in place (DuckDB's documented way to shrink a file:
        neither CHECKPOINT nor VACUUM gives space back to the disk). Commits wait meanwhile (samples stay in
        memory) and reads see what is committed; only the swap itself, a rename, makes reads wait.

        The copy is fsynced before it replaces the file with one ``rename``, so a crash leaves the old file or the
        new one whole; a copy left over by a crash is removed at the next attempt.
        """
        self._check_writable()
        file_bytes, free_bytes = self.space()
        if free_bytes < min_free_bytes or free_bytes < min_free_fraction * file_bytes:
            return None
        started = time.monotonic()
        target = self.path.with_name(self.path.name + ".compact")
        with self._db_lock:
            self._compacting = True
            try:
                self._recover()
                self._copy_to(target)
                self._swap_in(target)
            except (duckdb.Error, OSError, StoreError) as exc:
                for leftover in (target, target.with_name(target.name + ".wal")):
                    with contextlib.suppress(OSError):
                        leftover.unlink(missing_ok=True)
                raise StoreUnavailable(f"{self._file_problem(exc)}; not compacted, the file is as it was") from None
            finally:
                self._compacting = False
        return Compaction(file_bytes, self.path.stat().st_size, time.monotonic() - started)

    def _copy_to(self, target: Path) -> None:
        for leftover in (target, target.with_name(target.name + ".wal")):
            leftover.unlink(missing_ok=True)
        cur = self._writer
        name = cur.execute("SELECT current_database()").fetchall()[0][0]
        cur.execute(f"ATTACH {_sql_text(str(target))} AS compact_target")
        try:
            cur.execute(f'COPY FROM DATABASE "{name}" TO compact_target')
        finally:
            cur.execute("DETACH compact_target")
        _fsync(target)

    def _swap_in(self, target: Path) -> None:
        with self._gate:
            self._swapping = True
        try:
            self._drop_connection()  # waits for reads in flight; DuckDB checkpoints the file as it closes
            if self.path.with_name(self.path.name + ".wal").exists():
                # the old file's log would be replayed onto the new file: keep the old one
                raise StoreError(f"DuckDB file {self.path} kept a write-ahead log after closing")
            os.replace(target, self.path)
            _fsync(self.path.parent)
        finally:
            try:
                con: duckdb.DuckDBPyConnection | None = duckdb.connect(str(self.path), config=self._config)
            except duckdb.Error:
                con = None  # reads say the file is being reopened; the flusher's next attempt reopens it
                raise
            finally:
                with self._gate:
                    if con is not None:  # the new file, or the old one if it was not swapped
                        self._con, self._writer = con, con.cursor()
                        self._generation += 1
                    self._must_reopen = con is None
                    self._swapping = False
                    self._gate.notify_all()

    def space(self, *, checkpoint: bool = False) -> tuple[int, int]:
        """(bytes of the file, bytes of it free for reuse); ``checkpoint``: after moving the log into the file."""
        if checkpoint and not self.read_only:
            with self._db_lock:
                self._writer.execute("FORCE CHECKPOINT")
        with self._reading() as cur:
            block_bytes, free_blocks = cur.execute(
                "SELECT block_size, free_blocks FROM pragma_database_size() WHERE database_name = current_database()"
            ).fetchall()[0]
        return self.path.stat().st_size, int(block_bytes) * int(free_blocks)

    def _file_problem(self, exc: BaseException) -> str:
        if isinstance(exc, duckdb.FatalException):
            self._must_reopen = True  # DuckDB invalidated the database; reopened on the next attempt
        if isinstance(exc, StoreError):
            return str(exc)
        if isinstance(exc, OSError) and not is_disk_full(exc):
            return f"cannot use DuckDB file {self.path}: {one_line(exc)}"
        return self._problem_of(exc)

    def _check_writable(self) -> None:
        if self._closed:
            raise StoreError("store is closed")
        if self.read_only:
            raise StoreError(f"DuckDB file {self.path} is open read-only")

    def _append(self, chunks: list[tuple[str, Columns]]) -> None:
        if not chunks:
            return
        if not self._pending.add(chunks):
            # Dropped, not raised: the collectors and the live display go on; the count is on /metrics.
            if not self._dropping:
                self._dropping = True
                log.error(
                    "DuckDB file %s: %s samples wait in memory, the bound ([storage.embedded] max_unsaved_samples):"
                    " new samples are dropped and counted until commits work again",
                    self.path,
                    f"{self._pending.rows:,}",
                )
            return
        if self._pending.rows >= self.max_buffer_rows and self._problem is None:
            self._wake.set()

    def flush(self, timeout_s: float | None = None) -> bool:
        if self.read_only or self._closed:
            return True
        problem = self._problem
        if problem is not None:
            # The flusher retries every interval; a read does not pile another attempt on top.
            raise StoreUnavailable(self._unavailable(problem))
        self._commit_pending()
        return True

    def health(self) -> StoreHealth:
        return StoreHealth(
            problem=self._problem,
            unsaved_samples=self._pending.rows,
            unsaved_age_s=self._pending.oldest_age_s(),
            dropped_samples=self._pending.dropped,
        )

    def _state(self) -> str:
        dropped = self._pending.dropped
        return f"{self._pending.rows:,} samples wait in memory (at most {self._pending.max_rows:,})" + (
            f", {dropped:,} dropped since start" if dropped else ""
        )

    def _unavailable(self, problem: str) -> str:
        return f"{problem}; {self._state()}, committed when it works again"

    def _commit_pending(self) -> None:
        """Commit what is pending now, oldest first, a piece (at most ``max_buffer_rows`` rows per table) per
        transaction, so a retry after a long outage neither copies the whole buffer at once nor fails whole."""
        with self._db_lock:
            try:
                self._recover()
                todo = self._pending.rows
                while todo > 0:
                    piece = self._pending.take(self.max_buffer_rows)
                    if piece is None:
                        break
                    self._commit_piece(piece)
                    todo -= piece.rows
            except StoreUnavailable as exc:
                self._problem = str(exc)
                self.outage.failed(self._problem, self._state())
                raise StoreUnavailable(self._unavailable(self._problem)) from None
            except Exception as exc:  # a bug, not the file: said once with its traceback, retried like the rest
                self._problem = f"cannot commit to DuckDB file {self.path}: {type(exc).__name__}: {one_line(exc)}"
                if not self.outage.active:
                    log.exception("unexpected error committing to DuckDB file %s", self.path)
                self.outage.failed(self._problem, self._state())
                raise StoreUnavailable(self._unavailable(self._problem)) from exc
            if self._problem is not None:
                self._problem = None
                self._dropping = False
                self.outage.recovered(f"what waited is committed; {self._state()}")

    def _commit_piece(self, piece: Piece) -> None:
        seq = self._seq + 1
        try:
            self._insert(piece, seq)
        except duckdb.Error as exc:
            # Settled below: DuckDB may report a failed autocheckpoint after the commit itself was durable
            # ("COMMIT succeeded and is durable, but the autocheckpoint failed"); putting that piece back would
            # store it twice. The marker written in the same transaction tells which it was.
            self._in_doubt = seq
            if isinstance(exc, duckdb.FatalException):
                self._must_reopen = True
            # If the file cannot be read yet, the piece stays out and is settled at the next attempt.
            with contextlib.suppress(StoreUnavailable):
                if self._recover():
                    return  # it was committed after all (and the store reopened): go on with the next piece
            raise StoreUnavailable(self._problem_of(exc)) from None
        except BaseException:
            self._pending.restore()
            raise
        self._seq = seq
        self._pending.committed()

    def _insert(self, piece: Piece, seq: int) -> None:
        cur = self._writer
        cur.execute("BEGIN TRANSACTION")
        try:
            for table in _TABLES:
                columns = piece.columns(table)
                if columns is None:
                    continue
                view = f"_incoming_{table}"
                cur.register(view, columns)
                try:
                    cur.execute(f"INSERT INTO {table} SELECT * FROM {view}")
                finally:
                    with contextlib.suppress(duckdb.Error):
                        cur.unregister(view)
            cur.execute("UPDATE meta SET value = ? WHERE key = 'flush_seq'", [str(seq)])
            cur.execute("COMMIT")
        except BaseException:
            # DuckDB ends a transaction whose COMMIT failed by itself; a ROLLBACK then fails with "no transaction
            # is active", and raising that would hide the real error (e.g. "No space left on device").
            with contextlib.suppress(duckdb.Error):
                cur.execute("ROLLBACK")
            raise

    def _recover(self) -> bool:
        """Before an attempt: reopen a database DuckDB invalidated, and settle a piece whose commit is in doubt
        (True when that piece turned out to be committed)."""
        if self._must_reopen or self._con is None:
            self._drop_connection()
            try:
                con = duckdb.connect(str(self.path), config=self._config)
            except duckdb.Error as exc:
                raise StoreUnavailable(self._problem_of(exc)) from None
            with self._gate:
                self._con, self._writer = con, con.cursor()
                self._generation += 1
                self._must_reopen = False
                self.reopens += 1
            # During an outage every attempt may need this; the outage lines already say what is going on.
            log.log(logging.DEBUG if self.outage.active else logging.INFO, "DuckDB file %s reopened", self.path)
        if self._in_doubt is not None:
            try:
                row = self._writer.execute("SELECT value FROM meta WHERE key = 'flush_seq'").fetchone()
            except duckdb.Error as exc:
                self._must_reopen = isinstance(exc, duckdb.FatalException)
                raise StoreUnavailable(self._problem_of(exc)) from None
            marker = int(row[0]) if row else 0
            committed = marker >= self._in_doubt
            if committed:
                self._seq = marker
                self._pending.committed()
            else:
                self._pending.restore()
            self._in_doubt = None
            return committed
        return False

    def _drop_connection(self) -> None:
        """Close every cursor and the connection: DuckDB reopens a file afresh only once all of them are closed
        (until then ``connect`` hands back the same, invalidated, database)."""
        with self._gate:
            self._must_reopen = self._must_reopen or self._con is not None
            while self._readers:
                self._gate.wait()
            for cur in [*self._cursors, self._writer, self._con]:
                if cur is not None:
                    with contextlib.suppress(duckdb.Error):
                        cur.close()
            self._cursors.clear()
            self._con = None

    def _problem_of(self, exc: BaseException) -> str:
        if is_disk_full(exc):
            return disk_full("DuckDB file", self.path, exc)
        if is_damaged(exc):
            return damaged("DuckDB file", self.path, exc, also=" (with its .wal, if any)")
        if isinstance(exc, duckdb.FatalException):
            return f"DuckDB file {self.path} must be reopened after a fatal error ({one_line(exc)})"
        return f"cannot use DuckDB file {self.path}: {one_line(exc)}"

    def _flush_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_interval_s)
            self._wake.clear()
            with contextlib.suppress(StoreUnavailable):  # said by the outage log: once, then once a minute
                self._commit_pending()

    def close(self) -> None:
        if self._closed:
            return
        self._stop.set()
        self._wake.set()
        if self._flusher is not None:
            self._flusher.join()
        failure: StoreUnavailable | None = None
        if not self.read_only:
            try:
                self._commit_pending()  # the flusher may have stopped between a write and its next pass
            except StoreUnavailable as exc:
                failure = exc
        self._closed = True
        self._drop_connection()
        if failure is not None:
            raise StoreUnavailable(f"closed with samples not committed, they are lost: {failure}")

    # ------------------------------------------------------------------ reads

    def _before_read(self) -> None:
        if self._compacting:
            return  # the copy holds the writer for a while; a read meanwhile sees what is committed
        self.flush()  # read-your-writes: what the caller wrote is in the result

    def _query_series(
        self, measurement: str, equipment_ids: list[str], fields: list[str] | None, start_ns: int, end_ns: int
    ) -> SeriesRows:
        sql = (
            f"SELECT equipment, field, ts_ns, value FROM {measurement}"
            " WHERE ts_ns >= ? AND ts_ns < ? AND equipment IN (SELECT unnest(?))"
        )
        params: list[Any] = [start_ns, end_ns, equipment_ids]
        if fields is not None:
            sql += " AND field IN (SELECT unnest(?))"
            params.append(fields)
        # rowid keeps write order among equal timestamps (last written wins)
        with self._reading() as cur:
            data = cur.execute(sql + " ORDER BY equipment, field, ts_ns, rowid", params).fetchnumpy()
        return data["equipment"], data["field"], data["ts_ns"], data["value"]

    def _count_samples(
        self, measurement: str, equipment_ids: list[str], fields: list[str], start_ns: int, end_ns: int
    ) -> list[tuple[str, int]]:
        # distinct (field, timestamp): a value written twice is one sample, as in every read
        sql = (
            f"SELECT equipment, count(*) FROM (SELECT DISTINCT equipment, field, ts_ns FROM {measurement}"
            " WHERE ts_ns >= ? AND ts_ns < ? AND equipment IN (SELECT unnest(?)) AND field IN (SELECT unnest(?)))"
            " GROUP BY equipment"
        )
        with self._reading() as cur:
            return [(str(e), int(n)) for e, n in cur.execute(sql, [start_ns, end_ns, equipment_ids, fields]).fetchall()]

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
        bounds, params = [], []
        if lo_ns is not None:
            bounds.append("ts_ns >= ?")
            params.append(lo_ns)
        if hi_ns is not None:
            bounds.append("ts_ns < ?")
            params.append(hi_ns)
        edge = "max" if last else "min"
        scope = " AND ".join([*bounds, "equipment IN (SELECT unnest(?))", "field IN (SELECT unnest(?))"])
        sql = (
            f"WITH edge AS (SELECT equipment, field, {edge}(ts_ns) AS ts FROM {measurement} WHERE {scope}"
            " GROUP BY equipment, field)"
            f" SELECT m.equipment, m.field, m.ts_ns, m.value FROM {measurement} m JOIN edge"
            " ON m.equipment = edge.equipment AND m.field = edge.field AND m.ts_ns = edge.ts"
            " ORDER BY m.equipment, m.field, m.ts_ns, m.rowid"
        )
        with self._reading() as cur:
            data = cur.execute(sql, [*params, equipment_ids, fields]).fetchnumpy()
        return data["equipment"], data["field"], data["ts_ns"], data["value"]

    def _query_quality(
        self, equipment_ids: list[str], fields: list[str] | None, start_ns: int, end_ns: int
    ) -> QualityRows:
        sql = (
            "SELECT ts_ns, equipment, field, code, detail FROM quality"
            " WHERE ts_ns >= ? AND ts_ns < ? AND equipment IN (SELECT unnest(?))"
        )
        params: list[Any] = [start_ns, end_ns, equipment_ids]
        if fields is not None:
            sql += " AND field IN (SELECT unnest(?))"
            params.append(fields)
        with self._reading() as cur:
            d = cur.execute(sql + " ORDER BY rowid", params).fetchnumpy()
        return d["ts_ns"], d["equipment"], d["field"], d["code"], d["detail"]

    def _query_connectivity(self, equipment_ids: list[str], start_ns: int, end_ns: int) -> ConnectivityRows:
        with self._reading() as cur:
            return cur.execute(
                "SELECT ts_ns, equipment, source, connected, detail FROM connectivity"
                " WHERE ts_ns >= ? AND ts_ns < ? AND equipment IN (SELECT unnest(?))"
                " ORDER BY ts_ns, equipment, source, rowid",
                [start_ns, end_ns, equipment_ids],
            ).fetchall()

    def _query_ledger(
        self, start_ns: int, end_ns: int, equipment_ids: list[str] | None
    ) -> Iterable[Mapping[str, object]]:
        if not self._has_ledger:
            return []  # a file from before the ledger, opened read-only: it has no rows
        sql = f"SELECT {', '.join(RECORD_COLUMNS)} FROM {LEDGER_TABLE} WHERE shift_start_ns >= ? AND shift_start_ns < ?"
        params: list[Any] = [start_ns, end_ns]
        if equipment_ids is not None:
            sql += " AND equipment IN (SELECT unnest(?))"
            params.append(equipment_ids)
        return self._ledger_records(sql, params)

    def _ledger_records(self, sql: str, params: list[Any]) -> Iterator[Mapping[str, object]]:
        # In chunks: a year of a large plant is a hundred thousand records, decoded (or found decoded) as they
        # come, not all held at once as text first.
        with self._reading() as cur:
            cur.execute(sql, params)
            while chunk := cur.fetchmany(LEDGER_FETCH_ROWS):
                for row in chunk:
                    yield dict(zip(RECORD_COLUMNS, row, strict=True))

    def _seed_latest(self, measurement: str, equipment_ids: Sequence[str]) -> list[tuple[str, str, int, float]]:
        with self._reading() as cur:
            rows = cur.execute(
                f"SELECT equipment, field, max(ts_ns), arg_max(value, ts_ns) FROM {measurement}"
                " WHERE equipment IN (SELECT unnest(?)) GROUP BY equipment, field",
                [list(equipment_ids)],
            ).fetchall()
        return [(e, f, int(ts), float(v)) for e, f, ts, v in rows]


def _sql_text(text: str) -> str:
    """A string literal (ATTACH takes no parameters)."""
    return "'" + text.replace("'", "''") + "'"


def _fsync(path: Path) -> None:
    """Flush a file, or a folder's entries (a rename), to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
