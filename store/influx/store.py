"""InfluxDB backend: vectorised line protocol → durable spool → influxdb-client → ``/api/v2/write``.

``write`` encodes the batch and appends it to the spool (local disk only; no
network). :class:`store.influx.writer.SpoolSender` does the rest in the
background. Reads are InfluxQL over ``/query`` and see what the server has
acknowledged; ``flush()`` first for read-your-writes. The KPI ledger goes
the same way, one spool record per call, fsynced before the call returns:
an outage delays its rows, never loses them. ``latest`` is served
from memory (this process's writes, merged with the server's newest values
the first time an equipment is asked for).

The token is only handed to influxdb-client (an ``Authorization`` header);
it is never logged or put into an error message.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from influxdb_client import InfluxDBClient, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS

from shopfloor.models.contract import (
    CONNECTIVITY_FIELD_CONNECTED,
    CONNECTIVITY_FIELD_DETAIL,
    LEDGER_INTEGER_FIELDS,
    LEDGER_TEXT_FIELDS,
    MEASUREMENT_CONNECTIVITY,
    MEASUREMENT_LEDGER,
    MEASUREMENT_PRINTER,
    MEASUREMENT_QUALITY,
    MEASUREMENT_ROBOT,
    QUALITY_FIELD_CODE,
    QUALITY_FIELD_DETAIL,
    TAG_EQUIPMENT,
    TAG_FIELD,
    TAG_SOURCE,
)
from shopfloor.models.ledger import LedgerRecord
from shopfloor.models.samples import ConnectivityEvent, SampleBatch
from shopfloor.models.timebase import NS_PER_DAY, NS_PER_S
from shopfloor.store.base import (
    ConnectivityRows,
    QualityRows,
    SampleStore,
    SeriesRows,
    StoreError,
    StoreHealth,
    empty_quality_rows,
    empty_series_rows,
)
from shopfloor.store.influx.influxql import SeriesResult, any_of, ident, parse_response, where
from shopfloor.store.influx.line_protocol import (
    encode_connectivity,
    encode_ledger,
    encode_quality,
    encode_values,
    join_chunks,
    split_ledger_lines,
)
from shopfloor.store.influx.spool import Spool
from shopfloor.store.influx.writer import SpoolSender
from shopfloor.store.latest import LatestCache
from shopfloor.store.prepare import KnownFields, check_events, prepare_batch
from shopfloor.store.refused import RefusedBatches

log = logging.getLogger(__name__)

# InfluxDB 1.x refuses a string field value longer than this (a ledger row's totals are a few kB)
MAX_STRING_FIELD_BYTES = 64 * 1024
# The ledger's retention policy: kept for ever, while the samples' (the database's default policy) keep
# [storage] raw_retention_days. Written as bucket "<database>/ledger", as InfluxDB 1.8+ and 2.x's DBRP mapping name it.
LEDGER_RETENTION_POLICY = "ledger"
# While the samples' policy is not (yet) the configured one, whether it is now is asked again at most this often.
POLICY_RECHECK_S = 60.0


class InfluxQueryError(StoreError):
    """An InfluxQL request failed; ``answered``: the server answered (refused it), rather than not at all."""

    def __init__(self, message: str, *, answered: bool) -> None:
        super().__init__(message)
        self.answered = answered


@dataclass(frozen=True, slots=True)
class InfluxConnection:
    """Where and how to write; built by :func:`store.factory.open_store` from the plant file and env."""

    url: str
    org: str
    bucket: str
    token: str
    spool_dir: Path
    batch_size: int = 5000
    flush_interval_s: float = 1.0
    retry_interval_s: float = 1.0
    max_retries: int = 5
    timeout_s: float = 30.0
    flush_timeout_s: float = 30.0  # default wait of flush()/close() for the server's acknowledgement
    raw_retention_days: int | None = None  # [storage] raw_retention_days; None: the samples' policy is left alone

    def __repr__(self) -> str:  # keep the token out of tracebacks and logs
        return f"InfluxConnection(url={self.url!r}, org={self.org!r}, bucket={self.bucket!r}, token=***)"


class InfluxStore(SampleStore):
    kind = "InfluxStore"

    def __init__(self, connection: InfluxConnection, plant_id: str, *, known_fields: KnownFields | None = None) -> None:
        self.plant_id = plant_id
        self.connection = connection
        self.known_fields = known_fields
        self._closed = False
        self.spool = Spool(connection.spool_dir)
        # Refused batches join the lines the server rejected, in the spool's dead-letter file.
        self.refused = RefusedBatches(self.spool.dead_letters, log)
        timeout_ms = int(connection.timeout_s * 1000)
        # Two clients: the sender thread and reader threads never share a connection pool's state.
        self._write_client = InfluxDBClient(
            url=connection.url, token=connection.token, org=connection.org, timeout=timeout_ms
        )
        self._read_client = InfluxDBClient(
            url=connection.url, token=connection.token, org=connection.org, timeout=timeout_ms
        )
        write_api = self._write_client.write_api(write_options=SYNCHRONOUS)
        # Where the sender writes ledger lines: the policy ``ledger`` (True), or, where it does not exist and cannot
        # be made, with the samples (False); None: not looked at yet. Samples never wait behind ledger lines.
        self._ledger_in_policy: bool | None = None
        self._policy_lock = threading.Lock()
        self._raw_policy_in_force: bool | None = None  # the samples' policy is raw_retention_days (None: not asked)
        self._raw_policy_asked = 0.0

        def send(payload: bytes) -> None:
            samples, ledger = split_ledger_lines(payload)
            for lines in (samples, ledger):
                if not lines:
                    continue
                bucket = connection.bucket
                if lines is ledger and self._ensure_ledger_policy():
                    bucket = self.ledger_bucket
                write_api.write(
                    bucket=bucket,
                    org=connection.org,
                    record=lines,
                    write_precision=WritePrecision.NS,  # type: ignore[arg-type]  # influxdb_client annotates a WritePrecision, its constants are str
                )

        self._latest = LatestCache(self._seed_latest)
        self.sender = SpoolSender(
            self.spool,
            send,
            batch_size=connection.batch_size,
            flush_interval_s=connection.flush_interval_s,
            retry_interval_s=connection.retry_interval_s,
            max_retries=connection.max_retries,
            name=f"influx:{connection.bucket}",
        )

    def describe(self) -> str:
        return f"InfluxDB ({self.kind})"

    @property
    def ledger_bucket(self) -> str:
        """Where ledger rows are written: the database's retention policy ``ledger`` (docs/storage.md)."""
        return f"{self.connection.bucket}/{LEDGER_RETENTION_POLICY}"

    # ------------------------------------------------------------------ writes

    def write(self, batch: SampleBatch) -> None:
        self._check_open()
        try:
            p = prepare_batch(batch, self.known_fields)
        except ValueError as exc:
            raise self.refused.refuse(batch, exc) from exc
        payload = join_chunks([encode_values(self.plant_id, p), encode_quality(self.plant_id, p)])
        self.spool.append(payload, len(p))
        self._latest.update(p.measurement, p.equipment, p.field, p.ts_ns, p.value)

    def write_connectivity(self, events: Sequence[ConnectivityEvent]) -> None:
        self._check_open()
        check_events(events)
        if events:
            self.spool.append(encode_connectivity(self.plant_id, events), len(events))

    def _write_ledger(self, records: list[LedgerRecord]) -> None:
        self._check_open()
        for record in records:
            if len(record["payload"].encode("utf-8")) > MAX_STRING_FIELD_BYTES:
                raise ValueError(
                    f"ledger row {record['equipment']!r} {record['shift_key']!r}: its totals take"
                    f" {len(record['payload']):,} bytes, more than InfluxDB keeps in a string field"
                    f" ({MAX_STRING_FIELD_BYTES:,})"
                )
        # One record for the whole call: the spool keeps a record whole or not at all, and sends it in one request.
        self.spool.append_durable(encode_ledger(self.plant_id, records), len(records))
        self.sender.wake()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("store is closed")

    def flush(self, timeout_s: float | None = None) -> bool:
        if self._closed:
            return True
        target = self.spool.end_position
        self.spool.sync()
        self.sender.wake(urgent=True)
        timeout = self.connection.flush_timeout_s if timeout_s is None else timeout_s
        return self.sender.wait_acked(target, timeout)

    def spool_backlog(self) -> tuple[int, Path] | None:
        return self.spool.backlog_bytes(), self.spool.directory

    def health(self) -> StoreHealth:
        lines, age_s = self.spool.unsynced()
        return StoreHealth(self.spool.problem, lines, age_s, self.spool.dropped_lines)

    def _before_read(self) -> None:
        """While the spool cannot write (disk full), reads answer 503 with the reason, as the embedded store's
        do: the server's figures miss what could not be spooled, and a person has to act."""
        error = self.health().error()
        if error is not None:
            raise error

    def close(self, timeout_s: float | None = None) -> None:
        """Deliver what can be delivered within ``timeout_s``; the rest stays spooled for the next start."""
        if self._closed:
            return
        delivered = self.flush(timeout_s)
        self._closed = True
        self.sender.stop()
        self.spool.close()
        if not delivered:
            log.warning(
                "InfluxDB store closed with %d bytes spooled in %s; they are sent on the next start",
                self.spool.backlog_bytes(),
                self.spool.directory,
            )
        self._write_client.close()
        self._read_client.close()

    # ------------------------------------------------------------------ reads

    def query(self, q: str, *, client: InfluxDBClient | None = None) -> list[list[SeriesResult]]:
        """Run InfluxQL (``;``-separated statements allowed) against the bucket; series per statement.
        ``client``: the sender thread's own (it sets up the ledger's policy), else the readers'."""
        try:
            response = (client or self._read_client).api_client.call_api(
                "/query",
                "POST",
                query_params=[
                    ("db", self.connection.bucket),
                    ("q", q),
                    ("epoch", "ns"),
                    ("chunked", "true"),
                    ("chunk_size", "100000"),
                ],
                header_params={"Accept": "application/json"},
                _preload_content=False,
                _return_http_data_only=True,
            )
        except Exception as exc:
            status = getattr(exc, "status", None)
            body = getattr(exc, "body", None)
            detail = f"HTTP {status}: {body!r}"[:500] if status else f"{type(exc).__name__}: {str(exc)[:300]}"
            raise InfluxQueryError(
                f"InfluxDB query at {self.connection.url} failed: {detail}", answered=bool(status)
            ) from None
        try:
            return parse_response(response.data)
        except InfluxQueryError:
            raise
        except StoreError as exc:  # the server answered with an error
            raise InfluxQueryError(str(exc), answered=True) from None

    # ------------------------------------------------------------------ raw retention

    def raw_kept_since_ns(self, now_ns: int) -> int | None:
        """``now_ns`` less the retention once the server's policy for the samples is the configured one: it may drop
        anything older from then on (a shard group at a time). Before that, None: what the server has is whole."""
        days = self.connection.raw_retention_days
        if days is None:
            return None
        with self._policy_lock:
            stale = time.monotonic() - self._raw_policy_asked > POLICY_RECHECK_S
            if self._raw_policy_in_force is None or (not self._raw_policy_in_force and stale):
                try:
                    self._raw_policy_in_force = self._raw_policy_is(days)
                except InfluxQueryError as exc:
                    if not exc.answered:
                        raise  # the server is down: so are the reads this was asked for
                    # a server that cannot say (no retention policies in its InfluxQL): asked again later
                    log.debug("InfluxDB: cannot read the retention policies: %s", exc)
                    self._raw_policy_in_force = False
                self._raw_policy_asked = time.monotonic()
            in_force = self._raw_policy_in_force
        return now_ns - days * NS_PER_DAY if in_force else None

    def oldest_raw_ns(self) -> int | None:
        # every printer and robot reports its state: the oldest state sample is the oldest sample, near enough
        clause = where(self.plant_id, None, None, None)
        statements = ";".join(f"SELECT first({ident('state')}) FROM {ident(m)}{clause}" for m in _SAMPLE_MEASUREMENTS)
        found = [int(s.values[0][0]) for statement in self.query(statements) for s in statement if s.values]
        return min(found, default=None)

    def ensure_retention(self) -> str | None:
        """The database's default policy (the samples') set to ``raw_retention_days`` (shard groups of a day, so
        they go a day at a time), and the policy ``ledger`` (kept for ever) created if missing. Needs an admin
        user on a server with authentication; the caller first makes sure the ledger holds every shift older
        than the retention. None when it was all in place."""
        days = self.connection.raw_retention_days
        if days is None:
            return None
        db = ident(self.connection.bucket)
        done = []
        with self._policy_lock:
            policies = self._policies()
            if LEDGER_RETENTION_POLICY not in policies:
                self.query(
                    f"CREATE RETENTION POLICY {ident(LEDGER_RETENTION_POLICY)} ON {db} DURATION INF REPLICATION 1"
                )
                done.append(f"created retention policy {LEDGER_RETENTION_POLICY!r} (infinite) for the ledger")
            default = next((name for name, (_, is_default) in policies.items() if is_default), None)
            if default is None:
                raise StoreError(f"InfluxDB database {self.connection.bucket!r} has no default retention policy")
            if policies[default][0] != days * NS_PER_DAY:
                self.query(f"ALTER RETENTION POLICY {ident(default)} ON {db} DURATION {days}d SHARD DURATION 1d")
                done.append(f"retention policy {default!r} of the samples set to {days} day{'' if days == 1 else 's'}")
            self._raw_policy_in_force = True
            self._raw_policy_asked = time.monotonic()
        return "; ".join(done) or None

    def _raw_policy_is(self, days: int) -> bool:
        policies = self._policies()
        return LEDGER_RETENTION_POLICY in policies and any(
            is_default and duration_ns == days * NS_PER_DAY for duration_ns, is_default in policies.values()
        )

    def _policies(self, client: InfluxDBClient | None = None) -> dict[str, tuple[int, bool]]:
        """Retention policies of the database: name -> (duration in ns, 0 = infinite; the default?)."""
        statements = self.query(f"SHOW RETENTION POLICIES ON {ident(self.connection.bucket)}", client=client)
        out: dict[str, tuple[int, bool]] = {}
        for s in _first(statements):
            for row in s.values:
                point = dict(zip(s.columns, row, strict=True))
                out[str(point["name"])] = (_duration_ns(str(point["duration"])), bool(point.get("default")))
        return out

    def _ensure_ledger_policy(self) -> bool:
        """Before the first ledger line is sent (sender thread): whether the policy ``ledger`` exists, made here if
        missing. Where the server refuses (not allowed, no retention policies in its InfluxQL) the ledger goes with
        the samples, as reads then look for it (a warning says what to create): a write to a policy that does not
        exist would be retried for ever, and the samples spooled after it would wait."""
        if self._ledger_in_policy is not None:
            return self._ledger_in_policy
        try:
            if LEDGER_RETENTION_POLICY not in self._policies(client=self._write_client):
                self.query(
                    f"CREATE RETENTION POLICY {ident(LEDGER_RETENTION_POLICY)} ON {ident(self.connection.bucket)}"
                    " DURATION INF REPLICATION 1",
                    client=self._write_client,
                )
                log.info(
                    "InfluxDB database %r: created retention policy %r (infinite) for the KPI ledger",
                    self.connection.bucket,
                    LEDGER_RETENTION_POLICY,
                )
        except InfluxQueryError as exc:
            if not exc.answered:
                raise  # the server is not reachable: the sender retries the whole write
            log.warning(
                "InfluxDB: cannot make the ledger's retention policy %r (%s); until it exists the ledger is written"
                " with the samples and expires with them: create it (InfluxDB 1.x: CREATE RETENTION POLICY"
                ' "%s" ON "%s" DURATION INF REPLICATION 1; 2.x: a bucket %r, mapped by DBRP) and restart',
                LEDGER_RETENTION_POLICY,
                exc,
                LEDGER_RETENTION_POLICY,
                self.connection.bucket,
                self.ledger_bucket,
            )
            self._ledger_in_policy = False
            return False
        self._ledger_in_policy = True
        return True

    def _query_series(
        self, measurement: str, equipment_ids: list[str], fields: list[str] | None, start_ns: int, end_ns: int
    ) -> SeriesRows:
        select = "*::field" if fields is None else ", ".join(ident(f) for f in fields)
        q = (
            f"SELECT {select} FROM {ident(measurement)}"
            f"{where(self.plant_id, equipment_ids, start_ns, end_ns)} GROUP BY {ident(TAG_EQUIPMENT)}"
        )
        eq, fl, ts, vals = [], [], [], []
        for s in _first(self.query(q)):
            times = s.times()
            for name in s.columns[1:]:
                column = s.floats(name)
                present = ~np.isnan(column)  # null: this field has no value at that time
                n = int(present.sum())
                eq.append(np.full(n, s.tags[TAG_EQUIPMENT], dtype=object))
                fl.append(np.full(n, name, dtype=object))
                ts.append(times[present])
                vals.append(column[present])
        if not ts:
            return empty_series_rows()
        return np.concatenate(eq), np.concatenate(fl), np.concatenate(ts), np.concatenate(vals)

    def _count_samples(
        self, measurement: str, equipment_ids: list[str], fields: list[str], start_ns: int, end_ns: int
    ) -> list[tuple[str, int]]:
        select = ", ".join(f"count({ident(f)})" for f in fields)
        q = (
            f"SELECT {select} FROM {ident(measurement)}{where(self.plant_id, equipment_ids, start_ns, end_ns)}"
            f" GROUP BY {ident(TAG_EQUIPMENT)}"
        )
        out: list[tuple[str, int]] = []
        for s in _first(self.query(q)):
            for row in s.values:
                out.append((s.tags[TAG_EQUIPMENT], sum(int(v) for v in row[1:] if v is not None)))
        return out

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
        # One statement per field: InfluxQL gives a selector's own time only when it is alone in its SELECT.
        selector = "last" if last else "first"
        scope = where(self.plant_id, equipment_ids, lo_ns, hi_ns)
        statements = [
            f"SELECT {selector}({ident(f)}) FROM {ident(measurement)}{scope} GROUP BY {ident(TAG_EQUIPMENT)}"
            for f in fields
        ]
        eq: list[str] = []
        fl: list[str] = []
        ts: list[int] = []
        vals: list[float] = []
        for name, series in zip(fields, self.query("; ".join(statements)), strict=False):
            for s in series:
                times, values = s.times(), s.floats(s.columns[1])
                for t, v in zip(times.tolist(), values.tolist(), strict=True):
                    if v == v:  # null: no value of this field
                        eq.append(s.tags[TAG_EQUIPMENT])
                        fl.append(name)
                        ts.append(t)
                        vals.append(v)
        return (
            np.array(eq, dtype=object),
            np.array(fl, dtype=object),
            np.array(ts, dtype=np.int64),
            np.array(vals, dtype=np.float64),
        )

    def _query_quality(
        self, equipment_ids: list[str], fields: list[str] | None, start_ns: int, end_ns: int
    ) -> QualityRows:
        extra = any_of(TAG_FIELD, fields) if fields is not None else ""
        q = (
            f"SELECT {ident(QUALITY_FIELD_CODE)}, {ident(QUALITY_FIELD_DETAIL)} FROM {ident(MEASUREMENT_QUALITY)}"
            f"{where(self.plant_id, equipment_ids, start_ns, end_ns, extra)}"
            f" GROUP BY {ident(TAG_EQUIPMENT)}, {ident(TAG_FIELD)}"
        )
        parts: list[tuple[np.ndarray, ...]] = []
        for s in _first(self.query(q)):
            n = len(s.values)
            parts.append(
                (
                    s.times(),
                    np.full(n, s.tags[TAG_EQUIPMENT], dtype=object),
                    np.full(n, s.tags[TAG_FIELD], dtype=object),
                    s.floats(QUALITY_FIELD_CODE),
                    np.array([d or "" for d in s.column(QUALITY_FIELD_DETAIL)], dtype=object),
                )
            )
        if not parts:
            return empty_quality_rows()
        ts_ns, equipment, field, code, detail = (np.concatenate(c) for c in zip(*parts, strict=True))
        return ts_ns, equipment, field, code, detail

    def _query_connectivity(self, equipment_ids: list[str], start_ns: int, end_ns: int) -> ConnectivityRows:
        q = (
            f"SELECT {ident(CONNECTIVITY_FIELD_CONNECTED)}, {ident(CONNECTIVITY_FIELD_DETAIL)}"
            f" FROM {ident(MEASUREMENT_CONNECTIVITY)}{where(self.plant_id, equipment_ids, start_ns, end_ns)}"
            f" GROUP BY {ident(TAG_EQUIPMENT)}, {ident(TAG_SOURCE)}"
        )
        rows = []
        for s in _first(self.query(q)):
            for ts, connected, detail in zip(
                s.column("time"),
                s.column(CONNECTIVITY_FIELD_CONNECTED),
                s.column(CONNECTIVITY_FIELD_DETAIL),
                strict=True,
            ):
                rows.append((ts, s.tags[TAG_EQUIPMENT], s.tags[TAG_SOURCE], connected, detail))
        return rows

    def _query_ledger(
        self, start_ns: int, end_ns: int, equipment_ids: list[str] | None
    ) -> Iterable[Mapping[str, object]]:
        fields = (*LEDGER_TEXT_FIELDS, *LEDGER_INTEGER_FIELDS)
        in_policy = ".".join(ident(n) for n in (self.connection.bucket, LEDGER_RETENTION_POLICY, MEASUREMENT_LEDGER))
        clause = f"{where(self.plant_id, equipment_ids, start_ns, end_ns)} GROUP BY {ident(TAG_EQUIPMENT)}"
        select = f"SELECT {', '.join(ident(f) for f in fields)} FROM "
        try:
            answer = self.query(select + in_policy + clause)
        except InfluxQueryError as exc:
            if not (exc.answered and f"retention policy not found: {LEDGER_RETENTION_POLICY}" in str(exc)):
                raise
            # no policy ``ledger``: the sender writes the ledger with the samples (_ensure_ledger_policy)
            answer = self.query(select + ident(MEASUREMENT_LEDGER) + clause)
        records = []
        for s in _first(answer):
            for row in s.values:
                point = dict(zip(s.columns, row, strict=True))
                records.append(
                    {
                        "shift_start_ns": point["time"],
                        "equipment": s.tags[TAG_EQUIPMENT],
                        **{f: point[f] for f in fields},
                    }
                )
        return records

    def _seed_latest(self, measurement: str, equipment_ids: Sequence[str]) -> list[tuple[str, str, int, float]]:
        if not equipment_ids:
            return []
        keys = self.query(f"SHOW FIELD KEYS FROM {ident(measurement)}")
        fields = [row[0] for s in _first(keys) for row in s.values if row[1] == "float"]
        if not fields:
            return []
        # One statement per field: a selector over several fields would not report each one's own time.
        clause = where(self.plant_id, equipment_ids, None, None)
        q = ";".join(
            f"SELECT last({ident(f)}) FROM {ident(measurement)}{clause} GROUP BY {ident(TAG_EQUIPMENT)}" for f in fields
        )
        rows = []
        # one result per statement from the server: not enforced here
        for f, statement in zip(fields, self.query(q), strict=False):
            for s in statement:
                for ts, value in s.values:
                    if value is not None and math.isfinite(value):
                        rows.append((s.tags[TAG_EQUIPMENT], f, int(ts), float(value)))
        return rows


_SAMPLE_MEASUREMENTS = (MEASUREMENT_PRINTER, MEASUREMENT_ROBOT)
_DURATION_PART = re.compile(r"(\d+)([hms])")
_DURATION_UNIT_NS = {"h": 3600 * NS_PER_S, "m": 60 * NS_PER_S, "s": NS_PER_S}


def _duration_ns(text: str) -> int:
    """InfluxDB's duration as SHOW RETENTION POLICIES writes it ("2160h0m0s"; "0s" is infinite) in ns."""
    return sum(int(n) * _DURATION_UNIT_NS[unit] for n, unit in _DURATION_PART.findall(text))


def _first(statements: list[list[SeriesResult]]) -> list[SeriesResult]:
    return statements[0] if statements else []
