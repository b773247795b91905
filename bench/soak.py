"""Soak: mixed HTTP and WebSocket load against ``shopfloor demo`` for a long while; does collection hold?

    python -m bench soak                       # 10 minutes
    python -m bench.soak --duration-s 120 --http-clients 20 --ws-clients 100

The demo runs as its own process (simulators, collectors, store, API), as a
user starts it. This process is the load: ``--http-clients`` connections
looping over the display's and the tracking pages' endpoints, and
``--ws-clients`` live-channel subscribers reading every message. It reports:

* **polls lost** — the Modbus poller's skipped and offline ticks and failed
  requests over the soak, from the demo's own /metrics (target 0), and the
  printer samples stored against polls x signals (equal when nothing is lost);
* **latency** — p50/p99 of every request under load, and their ratio to the
  p50/p99 of /health measured on the same server before the load starts (the
  baseline of this run: the machines are shared, absolute figures move);
* **memory** — the demo's RSS (both processes) sampled every few seconds; the slope of a
  least-squares line over the second half (MB per 10 minutes; ~0 when
  nothing accumulates) and the peak.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import numpy as np
import websockets

from shopfloor.models.plant import load_plant

ENDPOINTS = (
    "/health",
    "/api/v1/status",
    "/api/v1/kpis",
    "/api/v1/teams/scoreboard",
    "/api/v1/savings",
    "/api/v1/plant",
    "/metrics",
)
LINK = "shopfloor_collector_connected"
METRIC = re.compile(r"^(shopfloor_[a-z_]+)\{([^}]*)\} ([0-9.eE+-]+)$")


def scrape(text: str) -> dict[tuple[str, str], float]:
    out = {}
    for line in text.splitlines():
        m = METRIC.match(line)
        if m:
            out[(m.group(1), m.group(2))] = float(m.group(3))
    return out


def poller_counts(metrics: dict[tuple[str, str], float]) -> dict[str, float]:
    counts: dict[str, float] = {}
    for (name, labels), value in metrics.items():
        if name == "shopfloor_collector_events_total" and 'source="modbus:' in labels:
            kind = re.search(r'kind="([^"]+)"', labels)
            if kind:
                counts[kind.group(1)] = counts.get(kind.group(1), 0.0) + value
        if name == "shopfloor_samples_stored_total" and 'measurement="printer"' in labels:
            counts["printer_samples"] = value
    return counts


def rss_mb(pid: int) -> float:
    """The resident memory of the demo: its main process and its children (the collectors' process)."""
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    total = 0.0
    for p in pids:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) / 1024
    return total


async def http_client(base: str, until: float, latencies: list[float], errors: list[str]) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        i = 0
        while time.monotonic() < until:
            path = ENDPOINTS[i % len(ENDPOINTS)]
            i += 1
            started = time.perf_counter()
            try:
                response = await client.get(path)
                if response.status_code != 200:
                    errors.append(f"{path}: {response.status_code}")
            except httpx.HTTPError as exc:
                errors.append(f"{path}: {type(exc).__name__}")
            latencies.append(time.perf_counter() - started)


async def ws_client(url: str, until: float, received: list[int], errors: list[str]) -> None:
    try:
        async with websockets.connect(url, open_timeout=30, max_size=2**22) as ws:
            while time.monotonic() < until:
                try:
                    await asyncio.wait_for(ws.recv(), timeout=max(0.1, until - time.monotonic()))
                    received[0] += 1
                except TimeoutError:
                    break
    except (OSError, websockets.WebSocketException) as exc:
        errors.append(f"ws: {type(exc).__name__}: {exc}")


async def baseline(base: str, n: int) -> list[float]:
    out = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for _ in range(n):
            started = time.perf_counter()
            (await client.get("/health")).raise_for_status()
            out.append(time.perf_counter() - started)
    return out


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) if values else float("nan")


@dataclass(frozen=True)
class SoakResult:
    duration_s: float
    http_clients: int
    ws_clients: int
    requests: int
    errors: int
    error_examples: list[str]
    ws_messages: int
    polls: float
    polls_lost: float  # skipped + offline ticks + failed requests of the Modbus poller
    printer_samples_stored: float
    health_idle_p50_ms: float
    health_idle_p99_ms: float
    load_p50_ms: float
    load_p99_ms: float
    rss_peak_mb: float
    rss_slope_mb_per_10min: float

    def summary(self) -> str:
        per_poll = self.printer_samples_stored / self.polls if self.polls else 0.0
        return (
            f"soak {self.duration_s:.0f} s, {self.http_clients} HTTP + {self.ws_clients} WebSocket clients:"
            f" {self.requests} requests, {self.errors} errors, {self.ws_messages} live messages;"
            f" polls {self.polls:.0f}, lost {self.polls_lost:.0f}, {per_poll:.1f} printer samples stored per poll;"
            f" p50 {self.load_p50_ms:.1f} ms ({self.load_p50_ms / self.health_idle_p50_ms:.1f}x idle /health),"
            f" p99 {self.load_p99_ms:.1f} ms ({self.load_p99_ms / self.health_idle_p99_ms:.1f}x);"
            f" RSS peak {self.rss_peak_mb:.0f} MB, slope {self.rss_slope_mb_per_10min:+.1f} MB/10 min"
        )


async def soak(base: str, pid: int, args: argparse.Namespace) -> SoakResult:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        # the soak starts once every collector is connected (their first seconds are not part of it)
        while True:
            links = [v for (name, _), v in scrape((await client.get("/metrics")).text).items() if name == LINK]
            if links and all(links):
                break
            await asyncio.sleep(0.2)
        idle = await baseline(base, 300)
        before = poller_counts(scrape((await client.get("/metrics")).text))
    until = time.monotonic() + args.duration_s
    latencies: list[float] = []
    errors: list[str] = []
    received = [0]
    ws_url = base.replace("http://", "ws://") + "/api/v1/live"
    tasks = [asyncio.create_task(http_client(base, until, latencies, errors)) for _ in range(args.http_clients)]
    tasks += [asyncio.create_task(ws_client(ws_url, until, received, errors)) for _ in range(args.ws_clients)]
    memory: list[tuple[float, float]] = []
    started = time.monotonic()
    while time.monotonic() < until:
        memory.append((time.monotonic() - started, rss_mb(pid)))
        await asyncio.sleep(args.sample_s)
    await asyncio.gather(*tasks)
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        after = poller_counts(scrape((await client.get("/metrics")).text))
    delta = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
    t, mb = np.array([m[0] for m in memory]), np.array([m[1] for m in memory])
    second_half = t >= t[-1] / 2
    slope_mb_per_s = float(np.polyfit(t[second_half], mb[second_half], 1)[0]) if second_half.sum() >= 2 else 0.0
    return SoakResult(
        duration_s=args.duration_s,
        http_clients=args.http_clients,
        ws_clients=args.ws_clients,
        requests=len(latencies),
        errors=len(errors),
        error_examples=sorted(set(errors))[:5],
        ws_messages=received[0],
        polls=delta.get("polls", 0.0),
        polls_lost=delta.get("skipped_ticks", 0.0) + delta.get("offline_ticks", 0.0) + delta.get("failures", 0.0),
        printer_samples_stored=delta.get("printer_samples", 0.0),
        health_idle_p50_ms=1000 * percentile(idle, 50),
        health_idle_p99_ms=1000 * percentile(idle, 99),
        load_p50_ms=1000 * percentile(latencies, 50),
        load_p99_ms=1000 * percentile(latencies, 99),
        rss_peak_mb=float(mb.max()),
        rss_slope_mb_per_10min=slope_mb_per_s * 600,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--duration-s", type=float, default=600.0)
    parser.add_argument("--http-clients", type=int, default=50)
    parser.add_argument("--ws-clients", type=int, default=200)
    parser.add_argument("--sample-s", type=float, default=5.0, help="memory sampling period")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="shopfloor-soak-") as tmp:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        demo = subprocess.Popen(
            [sys.executable, "-m", "shopfloor.cli.main", "demo", "--port", "0", "--data-dir", tmp],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        try:
            base = None
            assert demo.stdout is not None
            for line in demo.stdout:
                m = re.search(r"display\s+(http://\S+)/", line)
                if m:
                    base = m.group(1)
                    break
            if base is None:
                print("the demo did not start", file=sys.stderr)
                return 1
            # keep draining the demo's output so it never blocks on a full pipe
            threading.Thread(target=lambda: [None for _ in demo.stdout or ()], daemon=True).start()
            result = asyncio.run(soak(base, demo.pid, args))
        finally:
            demo.terminate()
            demo.wait(30)
    print(json.dumps(asdict(result), indent=2))
    print(result.summary())
    signals = len(load_plant().printers[0].signals)
    every_sample = abs(result.printer_samples_stored - result.polls * signals) <= signals
    return 0 if result.polls_lost == 0 and result.errors == 0 and every_sample else 1


if __name__ == "__main__":
    raise SystemExit(main())
