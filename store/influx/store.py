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
    MEASUREMENT_QUALITY,
    QUALITY_FIELD_CODE,
    QUALITY_FIELD_DETAIL,
    TAG_EQUIPMENT,
    TAG_FIELD,
    TAG_SOURCE,
)
from shopfloor.models.ledger import LedgerRecord
from shopfloor.models.samples import ConnectivityEvent, SampleBatch
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
)
from shopfloor.store.influx.spool import Spool
from shopfloor.store.influx.writer import SpoolSender
from shopfloor.store.latest import LatestCache
from shopfloor.store.prepare import KnownFields, check_events, prepare_batch
from shopfloor.store.refused import RefusedBatches

log = logging.getLogger(__name__)

# InfluxDB 1.x refuses a string field value longer than this (a ledger row's totals are a few kB)
MAX_STRING_FIELD_BYTES = 64 * 1024


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

        def send(payload: bytes) -> None:
            write_api.write(
                bucket=connection.bucket,
                org=connection.org,
                record=payload,
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

    def query(self, q: str) -> list[list[SeriesResult]]:
        """Run InfluxQL (``;``-separated statements allowed) against the bucket; series per statement."""
        try:
            response = self._read_client.api_client.call_api(
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
            raise StoreError(f"InfluxDB query at {self.connection.url} failed: {detail}") from None
        return parse_response(response.data)

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
        q = (
            f"SELECT {', '.join(ident(f) for f in fields)} FROM {ident(MEASUREMENT_LEDGER)}"
            f"{where(self.plant_id, equipment_ids, start_ns, end_ns)} GROUP BY {ident(TAG_EQUIPMENT)}"
        )
        records = []
        for s in _first(self.query(q)):
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


def _first(statements: list[list[SeriesResult]]) -> list[SeriesResult]:
    return statements[0] if statements else []
