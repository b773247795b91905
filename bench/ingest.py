"""Ingest benchmark: samples per second from collector-sized batches into each store.

    python -m bench.ingest [--samples 200000] [--batch 100] [--runs 3]

Measured in one run, on the same machine state, and reported as medians and
ratios (the machine is shared: absolute numbers drift, ratios much less):

* DuckDB: ``write`` every batch, then ``flush`` (committed) — one DuckDB thread;
* InfluxDB live: our store through nginx to a real influxd, ``write`` … until
  ``flush`` says the server acknowledged everything;
* InfluxDB replay: a spool filled while the server was unreachable, drained
  by a freshly opened store (what happens after an outage);
* baseline: influxdb-client's documented way, one ``Point`` per sample,
  written with its synchronous write API in ``batch_size`` chunks;
* encoding alone: our vectorised line protocol vs ``Point.to_line_protocol``.

Targets: ≥ 200 000 samples/s into DuckDB, ≥ 100 000 samples/s into InfluxDB.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from influxdb_client import InfluxDBClient, Point, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS

from bench._influx import InfluxServer
from bench._ports import free_port
from shopfloor.models.samples import SampleBatch
from shopfloor.store.duckdb_store import DuckDBStore
from shopfloor.store.influx import InfluxConnection, InfluxStore
from shopfloor.store.influx.line_protocol import encode_values
from shopfloor.store.prepare import prepare_batch

PLANT = "bench-plant"
DUCKDB_TARGET = 200_000
INFLUX_TARGET = 100_000
FIELDS = [
    "state",
    "stop_reason",
    "speed_m_min",
    "speed_setpoint_m_min",
    "printed_m_total",
    "defective_m_total",
    "energy_kwh_total",
    "water_l_total",
    "ink_consumed_kg_total",
    "dryer_1_temp_c",
]


def make_batches(total: int, batch_size: int, t0_ns: int, seed: int = 1) -> list[SampleBatch]:
    """Polls of 10 printers × 10 fields, one timestamp per poll: what a collector hands over."""
    rng = np.random.default_rng(seed)
    batches = []
    n_polls = total // batch_size
    for p in range(n_polls):
        k = np.arange(batch_size)
        batches.append(
            SampleBatch(
                "printer",
                np.full(batch_size, t0_ns + p * 1_000_000_000, dtype=np.int64),
                np.array([f"mso-cpp-{(i // len(FIELDS)) % 10 + 1}" for i in k], dtype=object),
                np.array([FIELDS[i % len(FIELDS)] for i in k], dtype=object),
                rng.normal(100.0, 25.0, batch_size),
                np.zeros(batch_size, dtype=np.uint8),
                np.full(batch_size, "", dtype=object),
            )
        )
    return batches


def rate(samples: int, run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return samples / (time.perf_counter() - start)


def bench_duckdb(batches: list[SampleBatch], root: Path, run: int) -> float:
    store = DuckDBStore(root / f"bench-{run}.duckdb", PLANT, threads=1, flush_interval_s=1.0)

    def go() -> None:
        for b in batches:
            store.write(b)
        store.flush()

    try:
        return rate(sum(len(b) for b in batches), go)
    finally:
        store.close()


def connection(server: InfluxServer, bucket: str, spool: Path, url: str | None = None) -> InfluxConnection:
    return InfluxConnection(
        url=url or server.url,
        org=server.org,
        bucket=bucket,
        token=server.token,
        spool_dir=spool,
        batch_size=5000,
        flush_interval_s=0.1,
        retry_interval_s=0.05,
        max_retries=3,
        flush_timeout_s=600,
    )


def bench_influx_live(server: InfluxServer, batches: list[SampleBatch], root: Path, run: int) -> float:
    bucket = server.new_bucket()
    store = InfluxStore(connection(server, bucket, root / f"spool-live-{run}"), PLANT)

    def go() -> None:
        for b in batches:
            store.write(b)
        if not store.flush(timeout_s=600):
            raise RuntimeError(f"not acknowledged: {store.sender.last_error}")

    try:
        return rate(sum(len(b) for b in batches), go)
    finally:
        store.close()


def bench_influx_replay(server: InfluxServer, batches: list[SampleBatch], root: Path, run: int) -> float:
    bucket = server.new_bucket()
    spool = root / f"spool-replay-{run}"
    offline = InfluxStore(connection(server, bucket, spool, url=f"http://127.0.0.1:{free_port()}"), PLANT)
    for b in batches:
        offline.write(b)
    offline.close(timeout_s=0)  # server unreachable: everything stays spooled
    holder: list[InfluxStore] = []

    def go() -> None:
        store = InfluxStore(connection(server, bucket, spool), PLANT)
        holder.append(store)
        if not store.flush(timeout_s=600):
            raise RuntimeError(f"replay not acknowledged: {store.sender.last_error}")

    try:
        return rate(sum(len(b) for b in batches), go)
    finally:
        for store in holder:
            store.close()


def point_per_sample(b: SampleBatch) -> list[Point]:
    return [
        Point(b.measurement).tag("plant", PLANT).tag("equipment", e).field(f, v).time(t, WritePrecision.NS)
        for t, e, f, v in zip(b.ts_ns.tolist(), b.equipment, b.field, b.value.tolist(), strict=True)
    ]


def bench_point_baseline(server: InfluxServer, batches: list[SampleBatch], batch_size: int) -> float:
    bucket = server.new_bucket()
    client = InfluxDBClient(url=server.url, token=server.token, org=server.org, timeout=600_000)
    write_api = client.write_api(write_options=SYNCHRONOUS)

    def go() -> None:
        pending: list[Point] = []
        for b in batches:
            pending += point_per_sample(b)
            if len(pending) >= batch_size:
                write_api.write(bucket, server.org, pending, write_precision=WritePrecision.NS)  # type: ignore[arg-type]  # influxdb_client annotates a WritePrecision, its constants are str
                pending = []
        if pending:
            write_api.write(bucket, server.org, pending, write_precision=WritePrecision.NS)  # type: ignore[arg-type]  # influxdb_client annotates a WritePrecision, its constants are str

    try:
        return rate(sum(len(b) for b in batches), go)
    finally:
        client.close()


def bench_encode(batches: list[SampleBatch]) -> tuple[float, float]:
    n = sum(len(b) for b in batches)
    ours = rate(n, lambda: [encode_values(PLANT, prepare_batch(b)) for b in batches])
    theirs = rate(n, lambda: [[p.to_line_protocol() for p in point_per_sample(b)] for b in batches])
    return ours, theirs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=100, help="samples per collector batch")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    # The replay run keeps a store against an unreachable server on purpose: its retry warnings are expected.
    logging.getLogger("store").setLevel(logging.ERROR)
    results: dict[str, list[float]] = {}

    def record(name: str, value: float) -> None:
        results.setdefault(name, []).append(value)

    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp, InfluxServer(Path(tmp) / "influx") as server:
        root = Path(tmp)
        for run in range(args.runs):
            batches = make_batches(args.samples, args.batch, t0_ns=1_790_000_000_000_000_000 + run * 10**15, seed=run)
            record("duckdb", bench_duckdb(batches, root, run))
            record("influx_live", bench_influx_live(server, batches, root, run))
            record("influx_replay", bench_influx_replay(server, batches, root, run))
            record("point_baseline", bench_point_baseline(server, batches, 5000))
            ours, theirs = bench_encode(batches)
            record("encode_vectorised", ours)
            record("encode_point", theirs)
            print(
                f"run {run + 1}/{args.runs}: " + ", ".join(f"{k} {v[-1]:,.0f}/s" for k, v in results.items()),
                flush=True,
            )

    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"\nmedian samples/s over {args.runs} runs, {args.samples:,} samples in batches of {args.batch}:")
    for name, value in med.items():
        print(f"  {name:18s} {value:>12,.0f}")
    print("ratios:")
    print(f"  influx live   / Point baseline : {med['influx_live'] / med['point_baseline']:.1f}x")
    print(f"  influx replay / Point baseline : {med['influx_replay'] / med['point_baseline']:.1f}x")
    print(f"  vectorised encode / Point      : {med['encode_vectorised'] / med['encode_point']:.1f}x")
    ok_duck = med["duckdb"] >= DUCKDB_TARGET
    ok_influx = min(med["influx_live"], med["influx_replay"]) >= INFLUX_TARGET
    print("targets:")
    print(f"  DuckDB   >= {DUCKDB_TARGET:,}/s : {'met' if ok_duck else 'NOT met'}")
    print(f"  InfluxDB >= {INFLUX_TARGET:,}/s (live and replay) : {'met' if ok_influx else 'NOT met'}")
    return 0 if ok_duck and ok_influx else 1


if __name__ == "__main__":
    raise SystemExit(main())
