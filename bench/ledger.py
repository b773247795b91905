"""Ledger benchmark: a year of history, the year-to-date scoreboard against /health, memory, range costs, rebuild.

    python -m bench.ledger [--plants default,large] [--raw-days 7] [--requests 600] [--concurrency 8] [--runs 3]

For each plant - ``default`` (the built-in: 1 printer, 12 robots) and
``large`` (4 printers, 100 robots, copies of the built-in's) - the plant's
"now" is a fixed morning late in a year (Monday 28 December 2026, 10:00, four
hours into the early shift), so the year to date is nearly a whole year.

1. A child process writes ``--raw-days`` production days of raw history and
   today's so far (simulators/history.py: every printer at 1 Hz, every robot
   by exception and every 10 s) through the store's write path into an
   embedded DuckDB file, and computes the real ledger rows of their closed
   shifts with ``Ledger.refresh``: the REBUILD RATE. The year's earlier rows
   are those rows RE-STAMPED onto the earlier shift instances
   (``dataclasses.replace``: each shift of the year carries the totals of
   the latest real shift of its kind; ``samples_read`` 0, as for shifts
   whose raw samples are gone), so a year of rows costs seconds to make, not
   a year of computing. Then the COST OF RANGES: uncached
   ``KpiService.compute`` over 1, 7, 31 and 365 production days up to now
   (1 day = today = the running shift, which comes from raw samples, and
   the day's metres counter for its hourly throughput),
   as ratios to the 1-day one: flat would be about 1x.
2. A second child serves that file with the real app and server (one
   ledger-keeper pass timed before it listens; the keeper and the live
   snapshots then run as in a plant). The parent (its own process: the load
   generator does not share the server's GIL) sends ``--requests`` requests
   per endpoint from ``--concurrency`` connections, alternating /health and
   the YEAR-TO-DATE team scoreboard run by run (``start`` = the year's first
   shift, ``end`` = the year's end, clipped to now; this server allows
   ranges of 366 days), and reports medians over ``--runs`` of p50/p99 and
   the ratios (target <= 3x). Uncached: the first request, and up to
   ``--uncached`` requests each with another nominal end (a cache key of its
   own: the whole year composed each time), then one scoreboard of each
   shorter range. PEAK RSS of the server process while it serves all that
   (VmHWM, reset when it starts listening; target <= 1 GB).

Every figure is measured in the same run. The first child prints the peak
RSS of each step too (VmHWM, reset before each step; for the ranges, the
peak over the RSS the step started with).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import dataclasses
import datetime as dt
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from bench._timing import median_s, ratio_line, time_line

DEFAULT_PLANT_FILE = "mso_cpp_plant.toml"
LARGE_PRINTERS = 4
LARGE_ROBOTS = 100
NOW_LOCAL = dt.datetime(2026, 12, 28, 10, 0)  # plant-local: a Monday morning, in the early shift
RANGE_DAYS = (1, 7, 31, 365)
ROBOTS_PER_BATCH = 10  # robot history is generated ten robots at a time: bounded memory for 100 robots
FLUSH_EVERY_SAMPLES = 1_000_000  # well below the embedded store's bound on uncommitted samples
YEAR_ROWS_PER_WRITE = 20_000
PEAK_RSS_TARGET_KB = 1 << 20  # 1 GiB
LONG_RUN_S = 2.0  # a computation this long is timed once, not repeated
HISTORY_SEED = 20261228


def bench_plant(kind: str) -> Any:
    """``default``: the built-in plant; ``large``: its printer and robot copied to 4 printers and 100 robots,
    the teams extended to the new printers (validated as a plant file is)."""
    from shopfloor.models.plant import load_plant, plant_from_dict

    if kind == "default":
        return load_plant()
    if kind != "large":
        raise ValueError(f"plant must be 'default' or 'large', got {kind!r}")
    text = resources.files("shopfloor.models.plants").joinpath(DEFAULT_PLANT_FILE).read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    base_printer = raw["printers"][0]
    printer_ids = [f"mso-cpp-{k}" for k in range(1, LARGE_PRINTERS + 1)]
    raw["printers"] = [
        {
            **copy.deepcopy(base_printer),
            "id": pid,
            "name": f"MSO-CPP gravure line {k}",
            "name_zh": f"MSO-CPP 高速凹版印花机 {k}号线",
            "modbus": {**base_printer["modbus"], "port": base_printer["modbus"]["port"] + k - 1},
        }
        for k, pid in enumerate(printer_ids, start=1)
    ]
    fleet = raw["fleets"][0]
    base_robot = fleet["robots"][0]
    fleet["robots"] = [
        {
            **base_robot,
            "id": f"r{k:03d}",
            "name": f"Charging robot {k:03d}",
            "name_zh": f"充电机器人 {k:03d}号",
            "serial_number": f"ECR-2026-{1000 + k}",
        }
        for k in range(1, LARGE_ROBOTS + 1)
    ]
    first = base_printer["id"]
    for team in raw["teams"]:
        if first in team["equipment"]:
            team["equipment"] = [e for e in team["equipment"] if e != first] + printer_ids
    return plant_from_dict(raw, f"large bench plant ({LARGE_PRINTERS} printers, {LARGE_ROBOTS} robots)")


class PlantClock:
    """The plant's time: ``start_ns`` when made, then moving with the machine's monotonic clock."""

    def __init__(self, start_ns: int) -> None:
        self._start_ns = start_ns
        self._mono0_ns = time.monotonic_ns()

    def now_ns(self) -> int:
        return self._start_ns + time.monotonic_ns() - self._mono0_ns


def plant_now_ns(plant: Any) -> int:
    from shopfloor.models.calendar import to_ns

    return to_ns(NOW_LOCAL.replace(tzinfo=plant.tz))


def status_kb(pid: int | str, key: str) -> int:
    """A ``/proc/<pid>/status`` figure in kB (VmRSS: now; VmHWM: the peak since start or the last reset)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no {key}")


def reset_peak_rss() -> None:
    """Start VmHWM over from the current RSS (Linux: ``5`` to ``clear_refs``), so a peak belongs to one step."""
    Path("/proc/self/clear_refs").write_text("5")


def mb(kb: int) -> str:
    return f"{kb / 1024:,.0f} MB"


def timed(fn: Callable[[], Any], repeats: int) -> float:
    """Seconds ``fn()`` takes: the first run if it takes over LONG_RUN_S (a year of a large plant), else the
    median of ``repeats`` runs after it (the first was the warm-up)."""
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    return first if first > LONG_RUN_S else median_s(fn, repeats, warmup=0)


# ---------------------------------------------------------------------------------------------------- prepare


def _write(store: Any, batches: Iterator[Any]) -> int:
    written = unsaved = 0
    for batch in batches:
        store.write(batch)
        written += len(batch.ts_ns)
        unsaved += len(batch.ts_ns)
        if unsaved >= FLUSH_EVERY_SAMPLES:
            store.flush()
            unsaved = 0
    store.flush()
    return written


def write_history(plant: Any, store: Any, start_ns: int, end_ns: int) -> int:
    """Raw history of every printer and robot in [start_ns, end_ns) through ``store.write()``; samples written.

    One printer, or ten robots, at a time: the arrays of a week of 100 robots would not fit in memory at once.
    """
    from shopfloor.models.plant import Fleet
    from shopfloor.simulators.history import printer_history, robot_history

    written = 0
    for k, printer in enumerate(plant.printers):
        one = plant.model_copy(update={"printers": [printer]})
        batches, _ = printer_history(one, start_ns, end_ns, seed=HISTORY_SEED + k)
        written += _write(store, iter(batches))
        del batches
    for fleet in plant.fleets:
        for first in range(0, len(fleet.robots), ROBOTS_PER_BATCH):
            robots = fleet.robots[first : first + ROBOTS_PER_BATCH]
            part = Fleet.model_validate({**fleet.model_dump(), "robots": [r.model_dump() for r in robots]})
            some = plant.model_copy(update={"fleets": [part]})
            written += _write(store, iter(robot_history(some, start_ns, end_ns, seed=HISTORY_SEED + 1000 + first)))
    return written


def restamped_year(
    plant: Any, real_rows: list[Any], start_ns: int, end_ns: int, computed_ns: int
) -> tuple[list[Any], int]:
    """Rows of every shift instance wholly in [start_ns, end_ns): per shift id and equipment, the totals of the
    latest real row of that shift (``real_rows``) on the instance's identity; and the number of instances."""
    from shopfloor.models.calendar import shift_instances

    template: dict[tuple[str, str], Any] = {}
    for row in sorted(real_rows, key=lambda r: r.shift_start_ns):
        template[(row.shift_id, row.equipment_id)] = row  # the latest of each shift wins
    equipment = sorted({r.equipment_id for r in real_rows})
    instances = [
        i
        for i in shift_instances(plant.shift_calendar, plant.tz, start_ns, end_ns)
        if i.start_ns >= start_ns and i.end_ns <= end_ns
    ]
    rows = []
    for instance in instances:
        for e in equipment:
            model = template[(instance.shift_id, e)]
            if instance.end_ns - instance.start_ns != model.shift_end_ns - model.shift_start_ns:
                # a daylight-saving day: a shift of another length would need other totals
                raise ValueError(
                    f"shift {instance.key} lasts {(instance.end_ns - instance.start_ns) / 3.6e12:.2f} h, its"
                    f" model {model.shift_key} {(model.shift_end_ns - model.shift_start_ns) / 3.6e12:.2f} h:"
                    " re-stamping needs a plant without daylight saving"
                )
            rows.append(
                dataclasses.replace(
                    model,
                    production_date=instance.production_date,
                    crew=instance.crew,
                    shift_start_ns=instance.start_ns,
                    shift_end_ns=instance.end_ns,
                    watermark_ns=instance.end_ns,
                    samples_read=0,  # no raw samples of these shifts are stored (as after the raw retention)
                    computed_ns=computed_ns,
                )
            )
    return rows, len(instances)


def prepare(kind: str, folder: Path, raw_days: int, repeats: int) -> None:
    """Child: raw history, real ledger rows (the rebuild rate), a re-stamped year, the cost of ranges; printed
    step by step."""
    from shopfloor.api.kpi_service import KpiService
    from shopfloor.api.ledger import Ledger
    from shopfloor.models.kpi import KpiConfig
    from shopfloor.models.periods import Period, period_range
    from shopfloor.models.timebase import NS_PER_DAY
    from shopfloor.store.annotations import AnnotationStore
    from shopfloor.store.duckdb_store import DuckDBStore

    plant = bench_plant(kind)
    now = plant_now_ns(plant)
    clock = PlantClock(now)
    today = period_range(plant.shift_calendar, plant.tz, Period.DAY, now)
    raw_start = today.start_ns - raw_days * NS_PER_DAY
    store = DuckDBStore(folder / "ledger.duckdb", plant.plant.id)
    notes = AnnotationStore(folder / "annotations.sqlite3")
    config = KpiConfig.of(plant)
    equipment = len(plant.printers) + sum(len(f.robots) for f in plant.fleets)
    try:
        reset_peak_rss()
        t0 = time.perf_counter()
        samples = write_history(plant, store, raw_start, now)
        seconds = time.perf_counter() - t0
        print(
            f"raw history, {raw_days} days and today so far: {samples:,} samples written in {seconds:.1f} s"
            f" ({samples / seconds:,.0f}/s; peak RSS {mb(status_kb('self', 'VmHWM'))})",
            flush=True,
        )

        reset_peak_rss()
        ledger = Ledger(plant, store, notes, config=config, clock_ns=clock.now_ns)
        closed = ledger.closed_instances(raw_start, now, now)
        t0 = time.perf_counter()
        ledger.refresh(closed)
        seconds = time.perf_counter() - t0
        rate = len(closed) / seconds
        print(
            time_line(f"rebuild: Ledger.refresh of {len(closed)} shifts", seconds)
            + f"   {rate:.2f} shifts/s, {rate * equipment:,.0f} rows/s (peak RSS {mb(status_kb('self', 'VmHWM'))})",
            flush=True,
        )

        reset_peak_rss()
        t0 = time.perf_counter()
        real = store.read_ledger(closed[0].start_ns, closed[-1].end_ns)
        year_start = today.start_ns - max(RANGE_DAYS) * NS_PER_DAY
        rows, instances = restamped_year(plant, real, year_start, closed[0].start_ns, clock.now_ns())
        for k in range(0, len(rows), YEAR_ROWS_PER_WRITE):
            store.write_ledger(rows[k : k + YEAR_ROWS_PER_WRITE])
        seconds = time.perf_counter() - t0
        print(
            f"the year before: {instances} shifts re-stamped from those (dataclasses.replace), {len(rows):,} rows"
            f" written in {seconds:.1f} s; {len(store.read_ledger(year_start, now)):,} ledger rows in all"
            f" (peak RSS {mb(status_kb('self', 'VmHWM'))})",
            flush=True,
        )
        del rows, real

        kpi = KpiService(plant, store, notes, config=config, cache_s=0.0, clock_ns=clock.now_ns)
        print(
            "uncached KpiService.compute of production days up to now (1 day: today, the running shift from raw"
            " samples):",
            flush=True,
        )
        # memory: the peak over the RSS before the step (what a step frees stays in the process for the next)
        print(
            f"  {'range':<10}{'compute':>11}{'x 1 day':>9}{'ledger read':>13}{'ledger/raw shifts':>19}{'RSS +peak':>11}"
        )
        one_day_s: float | None = None
        for days in RANGE_DAYS:
            start = today.start_ns - (days - 1) * NS_PER_DAY

            def compute(start: int = start) -> object:
                return kpi.compute(start, clock.now_ns())

            def read(start: int = start) -> object:
                return store.read_ledger(start, clock.now_ns())

            reset_peak_rss()
            before = status_kb("self", "VmRSS")
            seconds = timed(compute, repeats)
            peak = status_kb("self", "VmHWM") - before
            basis = kpi.last_basis
            assert basis is not None  # set by every compute
            read_s = timed(read, repeats)
            one_day_s = one_day_s or seconds
            print(
                f"  {f'{days} days' if days > 1 else '1 day':<10}{seconds * 1e3:>8.0f} ms{seconds / one_day_s:>8.1f}x"
                f"{read_s * 1e3:>10.0f} ms{f'{basis.ledger_shifts}/{basis.raw_shifts}':>19}{'+' + mb(peak):>11}",
                flush=True,
            )
    finally:
        notes.close()
        store.close()


# ---------------------------------------------------------------------------------------------------- serve


def serve(kind: str, folder: Path, port_file: Path, cache_s: float) -> None:
    """Child: the real app and server over the prepared file, on the plant's clock at the same "now"."""
    import socket

    from shopfloor.api.app import create_app
    from shopfloor.api.live import LiveHub
    from shopfloor.api.server import build_server
    from shopfloor.api.settings import ApiConfig
    from shopfloor.models.timebase import NS_PER_DAY
    from shopfloor.store.annotations import AnnotationStore
    from shopfloor.store.duckdb_store import DuckDBStore

    plant = bench_plant(kind)
    clock = PlantClock(plant_now_ns(plant))
    store = DuckDBStore(folder / "ledger.duckdb", plant.plant.id)
    notes = AnnotationStore(folder / "annotations.sqlite3")
    app = create_app(
        plant,
        store,
        live_hub=LiveHub(plant, clock_ns=clock.now_ns),
        annotations=notes,
        # a year in one request: the year-to-date scoreboard
        config=ApiConfig(plant.api.api_keys_env, max_range_days=366, kpi_cache_s=cache_s),
        clock_ns=clock.now_ns,
    )
    # The keeper's pass at a start (the background keeper repeats it every 15 s): the rows of the raw retention
    # window read and checked, the samples of the last week's shifts counted.
    ledger = app.state.services.kpi.ledger
    now = clock.now_ns()
    t0 = time.perf_counter()
    written = ledger.catch_up(now - plant.storage.raw_retention_days * NS_PER_DAY, now)
    keeper_s = time.perf_counter() - t0
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    info = {
        "port": sock.getsockname()[1],
        "keeper_s": keeper_s,
        "keeper_written": written,
        "rss_kb": status_kb("self", "VmRSS"),
        "startup_peak_kb": status_kb("self", "VmHWM"),
    }
    server = build_server(app, plant.api, access_log=False)
    reset_peak_rss()  # from here on, the peak is the serving's
    port_file.write_text(json.dumps(info))
    try:
        server.run(sockets=[sock])
    finally:
        notes.close()
        store.close()


# ---------------------------------------------------------------------------------------------------- measure


async def load(url: str, n: int, concurrency: int, max_s: float) -> tuple[np.ndarray, float]:
    """Latencies of ``n`` GETs of ``url`` from ``concurrency`` connections after a warm-up request (fewer if
    ``max_s`` runs out first: no request but each connection's first starts after it), and requests per second."""
    latencies: list[float] = []
    counter = iter(range(n))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    deadline = math.inf

    async def worker(client: httpx.AsyncClient) -> None:
        for k, _ in enumerate(counter):
            if k and time.monotonic() > deadline:
                return
            t0 = time.perf_counter()
            r = await client.get(url)
            latencies.append(time.perf_counter() - t0)
            if r.status_code != 200:
                raise RuntimeError(f"{url}: HTTP {r.status_code} {r.text[:200]}")

    async with httpx.AsyncClient(limits=limits, timeout=600) as client:
        await client.get(url)  # warm-up
        deadline = time.monotonic() + max_s
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    return np.array(latencies), len(latencies) / elapsed


def _child(*args: str) -> list[str]:
    return [sys.executable, "-m", "bench.ledger", *args]


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path.cwd()), os.environ.get("PYTHONPATH", "")]))


def measure_server(kind: str, folder: Path, args: argparse.Namespace) -> None:
    from shopfloor.models.calendar import from_ns
    from shopfloor.models.periods import Period, period_range, year_to_date

    plant = bench_plant(kind)
    now = plant_now_ns(plant)
    year_start_month = plant.plant.year_start_month
    ytd = year_to_date(plant.shift_calendar, plant.tz, now, year_start_month=year_start_month)
    year_end_ns = period_range(
        plant.shift_calendar, plant.tz, Period.YEAR, now, year_start_month=year_start_month
    ).end_ns
    start = from_ns(ytd.start_ns, plant.tz).isoformat()

    def end(seconds_later: int) -> str:
        return from_ns(year_end_ns + seconds_later * 1_000_000_000, plant.tz).isoformat()

    today = period_range(plant.shift_calendar, plant.tz, Period.DAY, now, year_start_month=year_start_month)

    def day_start(days: int) -> str:
        return from_ns(today.start_ns - (days - 1) * 86_400 * 1_000_000_000, plant.tz).isoformat()

    port_file = folder / "port.json"
    child = subprocess.Popen(
        _child("--serve", kind, str(folder), str(port_file), "--cache-s", str(args.cache_s)), env=_env()
    )
    try:
        deadline = time.monotonic() + 600
        while not port_file.exists() or not port_file.read_text():
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the benchmark server did not start")
            time.sleep(0.1)
        served = json.loads(port_file.read_text())
        base = f"http://127.0.0.1:{served['port']}"
        while True:
            try:
                httpx.get(f"{base}/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        print(
            f"server: the keeper's pass at start {served['keeper_s'] * 1e3:,.0f} ms ({served['keeper_written']} shifts"
            f" written); RSS {mb(served['rss_kb'])} when listening (startup peak {mb(served['startup_peak_kb'])})",
            flush=True,
        )
        # /health before any KPI request: the server with only its own background work (keeper, live snapshots)
        idle, _ = asyncio.run(load(f"{base}/health", args.requests, args.concurrency, args.max_run_s))

        scoreboard = f"{base}/api/v1/teams/scoreboard"
        ytd_url = str(httpx.URL(scoreboard, params={"start": start, "end": end(0)}))
        t0 = time.perf_counter()
        first = httpx.get(ytd_url, timeout=600)
        first_s = time.perf_counter() - t0
        if first.status_code != 200:
            raise RuntimeError(f"year-to-date scoreboard: HTTP {first.status_code} {first.text[:300]}")
        ranked = ", ".join(f"{t['team']} {t['score']:.0f}" for t in first.json()["teams"] if t["score"] is not None)
        print(f"year-to-date scoreboard ({ytd.label}, {start[:10]} to now): {ranked}", flush=True)

        results: dict[str, list[tuple[float, float, float, int]]] = {"health": [], "ytd": []}
        urls = {"health": f"{base}/health", "ytd": ytd_url}
        for run in range(args.runs):
            for name in ["health", "ytd"] if run % 2 == 0 else ["ytd", "health"]:
                lat, rps = asyncio.run(load(urls[name], args.requests, args.concurrency, args.max_run_s))
                results[name].append((float(np.percentile(lat, 50)), float(np.percentile(lat, 99)), rps, len(lat)))

        uncached: list[float] = []
        until = time.monotonic() + args.max_run_s
        with httpx.Client(timeout=600) as client:
            for k in range(args.uncached):
                if uncached and time.monotonic() > until:
                    break
                # another nominal end (clipped to now all the same): a cache key of its own, the year composed
                t0 = time.perf_counter()
                r = client.get(scoreboard, params={"start": start, "end": end(k + 1)})
                uncached.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    raise RuntimeError(f"year-to-date scoreboard: HTTP {r.status_code} {r.text[:200]}")
        peaks_kb = {"the year-to-date requests": status_kb(child.pid, "VmHWM")}
        # One scoreboard of each shorter range too (uncached: a first request each), so the peak below is that of
        # any KPI request.
        ranges_s: dict[int, float] = {}
        for days in RANGE_DAYS[:-1]:
            t0 = time.perf_counter()
            r = httpx.get(scoreboard, params={"start": day_start(days), "end": end(0)}, timeout=600)
            ranges_s[days] = time.perf_counter() - t0
            if r.status_code != 200:
                raise RuntimeError(f"{days}-day scoreboard: HTTP {r.status_code} {r.text[:200]}")
            peaks_kb[f"the {days}-day one"] = status_kb(child.pid, "VmHWM")
        peak_kb = status_kb(child.pid, "VmHWM")
        rss_kb = status_kb(child.pid, "VmRSS")
    finally:
        child.terminate()
        child.wait(timeout=60)

    med = {k: tuple(statistics.median(r[i] for r in v) for i in range(3)) for k, v in results.items()}
    fewest = {k: min(r[3] for r in v) for k, v in results.items()}
    h, y = med["health"], med["ytd"]
    i50, i99 = (float(np.percentile(idle, q)) for q in (50, 99))
    print(
        f"{args.requests} requests per run, {args.runs} runs, {args.concurrency} connections, KPI cache"
        f" {args.cache_s:g} s; medians over runs:"
    )
    print(f"  {'endpoint':<32}{'p50 ms':>10}{'p99 ms':>10}{'req/s':>10}")
    print(f"  {'/health before any KPI request':<32}{i50 * 1e3:>10.2f}{i99 * 1e3:>10.2f}")
    print(f"  {'/health':<32}{h[0] * 1e3:>10.2f}{h[1] * 1e3:>10.2f}{h[2]:>10.0f}")
    print(f"  {'year-to-date scoreboard':<32}{y[0] * 1e3:>10.2f}{y[1] * 1e3:>10.2f}{y[2]:>10.0f}")
    short = [f"{k}: {n}" for k, n in fewest.items() if n < args.requests]
    if short:
        print(
            f"  (no request starts after {args.max_run_s:g} s of a run; requests in the shortest: {', '.join(short)})"
        )
    print(ratio_line("YTD scoreboard / health, p50", y[0] / h[0], "<= 3x", y[0] / h[0] <= 3))
    print(ratio_line("YTD scoreboard / health, p99", y[1] / h[1], "<= 3x", y[1] / h[1] <= 3))
    print(f"{'health p50 during / before the KPI load':<44} {h[0] / i50:>10.1f}x")
    print(time_line("YTD scoreboard uncached: the first request", first_s) + f"   {first_s / h[0]:,.0f}x health p50")
    p50 = statistics.median(uncached)
    print(
        time_line(f"YTD scoreboard uncached: p50 of {len(uncached)}", p50)
        + f"   {p50 / h[0]:,.0f}x health p50 (slowest {max(uncached):.2f} s)"
    )
    firsts = ", ".join(f"{d} day{'s' if d > 1 else ''} {t * 1e3:,.0f} ms" for d, t in ranges_s.items())
    print(f"scoreboards uncached over HTTP (first request each): {firsts}")
    verdict = "met" if peak_kb <= PEAK_RSS_TARGET_KB else "NOT met"
    print(
        f"{'peak RSS of the server while serving':<44} {mb(peak_kb):>13}   target <= 1 GB   {verdict}"
        f" (RSS at the end {mb(rss_kb)})"
    )
    print("  peak after " + ", ".join(f"{what} {mb(kb)}" for what, kb in peaks_kb.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plants", default="default,large", help="comma-separated: default, large")
    parser.add_argument("--raw-days", type=int, default=7, help="production days of raw history before today")
    parser.add_argument("--requests", type=int, default=600, help="requests per endpoint and run")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-run-s", type=float, default=60.0, help="no request of a run starts after this")
    parser.add_argument("--uncached", type=int, default=5, help="year-to-date requests with a cache key each")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each short in-process computation")
    parser.add_argument("--cache-s", type=float, default=1.0, help="the server's KPI result cache")
    parser.add_argument("--prepare", nargs=2, metavar=("PLANT", "FOLDER"), help=argparse.SUPPRESS)
    parser.add_argument("--serve", nargs=3, metavar=("PLANT", "FOLDER", "PORT_FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.prepare:
        prepare(args.prepare[0], Path(args.prepare[1]), args.raw_days, args.repeats)
        return 0
    if args.serve:
        serve(args.serve[0], Path(args.serve[1]), Path(args.serve[2]), args.cache_s)
        return 0
    kinds = [k.strip() for k in args.plants.split(",") if k.strip()]
    if not kinds or any(k not in ("default", "large") for k in kinds):
        parser.error(f"--plants takes default and/or large, comma-separated; got {args.plants!r}")
    if args.raw_days < 7:
        parser.error(f"--raw-days must be at least 7 (a 7-day range reads a week of raw samples), got {args.raw_days}")
    for kind in kinds:
        plant = bench_plant(kind)
        robots = sum(len(f.robots) for f in plant.fleets)
        print(
            f"\n--- {kind} plant: {len(plant.printers)} printer(s), {robots} robots; now {NOW_LOCAL:%Y-%m-%d %H:%M}"
            f" {plant.tz.key}",
            flush=True,
        )
        with tempfile.TemporaryDirectory(prefix="bench-ledger-") as tmp:
            prepare_args = ["--prepare", kind, tmp, "--raw-days", str(args.raw_days), "--repeats", str(args.repeats)]
            subprocess.run(_child(*prepare_args), env=_env(), check=True)
            measure_server(kind, Path(tmp), args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
