"""OPC UA collector benchmark: CPU share and end-to-end delay for 100 robots subscribed at 1 s.

    python -m bench.opcua_fleet [--robots 100] [--duration 20] [--no-churn]

The fleet simulator (simulators/fleet) runs in a **subprocess**, so the CPU
time measured here (``time.process_time`` of this process over the
measurement window) is the client side only. Two clients are measured one
after the other against the same simulator, for the same duration:

* **baseline**: asyncua's documented way — ``Client.create_subscription``
  with a handler whose ``datachange_notification`` only notes the source
  timestamp and the time of arrival;
* **collector**: ``OpcUaFleetCollector`` with a sink that notes, for each
  good sample of a batch, its source timestamp and the time the batch
  reached the sink (decode, quality mapping and batching included).

Delay = arrival time - source timestamp. It includes the server's sampling
and publishing intervals (both 1 s), which dominate; compare the two rows.
With churn (the default) the simulator rewrites every variable once a
second with a fresh source timestamp, so every monitored item notifies every
publishing interval (robots alone change a few values a second).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import math
import statistics
import subprocess
import sys
import time
import tomllib
from collections.abc import Sequence
from importlib import resources
from typing import Any

import numpy as np
from asyncua import Client, ua

from shopfloor.collectors.opcua import OpcUaFleetCollector
from shopfloor.models.plant import DEFAULT_PLANT_RESOURCE, Plant, plant_from_dict
from shopfloor.models.samples import ConnectivityEvent, SampleBatch

WARMUP_S = 3.0


def bench_plant(n_robots: int) -> Plant:
    raw = tomllib.loads(resources.files("shopfloor.models.plants").joinpath(DEFAULT_PLANT_RESOURCE).read_text("utf-8"))
    fleet = raw["fleets"][0]
    fleet["robots"] = [
        {"id": f"r{i:03d}", "name": f"Robot {i}", "name_zh": f"机器人 {i}"} for i in range(1, n_robots + 1)
    ]
    fleet["opcua"].update(sampling_interval_ms=1000, publishing_interval_ms=1000, subscribe_batch_size=500)
    return plant_from_dict(raw)


# --------------------------------------------------------------------------- simulator side (subprocess)


async def serve(n_robots: int, churn: bool) -> None:
    from shopfloor.simulators.fleet import FleetSimulator

    plant = bench_plant(n_robots)
    sim = FleetSimulator(plant, endpoint="opc.tcp://127.0.0.1:0/fleet", port=0, time_scale=1.0)
    await sim.start()
    print(sim.endpoint, flush=True)
    fleet = sim.fleet
    keys = [(r.id, v.name, sim.node_id(r.id, v.name)) for r in fleet.robots for v in fleet.variables]
    types = {v.name: v.variant_type for v in fleet.variables}
    tick = 0
    loop = asyncio.get_running_loop()
    stdin_closed = loop.run_in_executor(None, sys.stdin.read)  # the parent closes stdin to stop us
    while not stdin_closed.done():
        if churn:
            now = dt.datetime.now(dt.UTC)
            for k, (_, name, node_id) in enumerate(keys):
                raw = (k + tick) % 50
                value = (
                    ua.Variant(float(raw), ua.VariantType.Double)
                    if types[name] == "Double"
                    else ua.Variant(raw, getattr(ua.VariantType, types[name]))
                )
                await sim.server.write_attribute_value(
                    node_id,
                    ua.DataValue(value, SourceTimestamp=now, ServerTimestamp=now),  # type: ignore[arg-type]  # asyncua's ua.DateTime marker type stands for datetime
                )
            tick += 1
        await asyncio.wait([stdin_closed], timeout=1.0)
    await sim.stop()


# --------------------------------------------------------------------------- client side


class DelaySink:
    def __init__(self) -> None:
        self.delays_ms: list[np.ndarray] = []
        self.samples = 0
        self.recording = False

    def write(self, batch: SampleBatch) -> None:
        if self.recording:
            arrived = time.time_ns()
            good = batch.good
            self.delays_ms.append((arrived - batch.ts_ns[good]) / 1e6)
            self.samples += len(batch)

    def write_connectivity(self, events: Sequence[ConnectivityEvent]) -> None:
        pass


class NoteHandler:
    """The baseline handler: notes source time and arrival, nothing else."""

    def __init__(self) -> None:
        self.notes: list[tuple[dt.datetime | None, int]] = []
        self.recording = False

    def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
        if self.recording:
            self.notes.append((data.monitored_item.Value.SourceTimestamp, time.time_ns()))


async def measure(window_s: float, start: Any, stop: Any) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of this process over a window opened by ``start()``."""
    await asyncio.sleep(WARMUP_S)
    start()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.sleep(window_s)
    cpu1, wall1 = time.process_time(), time.perf_counter()
    stop()
    return cpu1 - cpu0, wall1 - wall0


async def run_baseline(plant: Plant, url: str, window_s: float) -> dict[str, Any]:
    fleet = plant.fleets[0]
    client = Client(url, timeout=fleet.opcua.timeout_s)
    await client.connect()
    handler = NoteHandler()
    try:
        idx = await client.get_namespace_index(fleet.opcua.namespace_uri)
        nodes = [client.get_node(f"ns={idx};{fleet.node_id(r, v)[1]}") for r in fleet.robots for v in fleet.variables]
        sub = await client.create_subscription(fleet.opcua.publishing_interval_ms, handler)
        for start in range(0, len(nodes), fleet.opcua.subscribe_batch_size):
            await sub.subscribe_data_change(  # type: ignore[call-overload]  # asyncua's ua.Double marker type stands for float
                nodes[start : start + fleet.opcua.subscribe_batch_size],
                sampling_interval=fleet.opcua.sampling_interval_ms,
            )

        def begin() -> None:
            handler.recording = True

        def end() -> None:
            handler.recording = False

        cpu_s, wall_s = await measure(window_s, begin, end)
        delays = np.array([(arrived - int(src.timestamp() * 1e9)) / 1e6 for src, arrived in handler.notes if src])
    finally:
        await client.disconnect()
    return summary("baseline (asyncua handler)", cpu_s, wall_s, len(handler.notes), delays)


async def run_collector(plant: Plant, url: str, window_s: float) -> dict[str, Any]:
    fleet = plant.fleets[0]
    fleet = fleet.model_copy(update={"opcua": fleet.opcua.model_copy(update={"endpoint": url})})
    sink = DelaySink()
    collector = OpcUaFleetCollector(fleet, sink)
    stop = asyncio.Event()
    task = asyncio.create_task(collector.run(stop))
    try:
        await asyncio.wait_for(collector.ready.wait(), timeout=60)

        def begin() -> None:
            sink.recording = True

        def end() -> None:
            sink.recording = False

        cpu_s, wall_s = await measure(window_s, begin, end)
    finally:
        stop.set()
        await task
    delays = np.concatenate(sink.delays_ms) if sink.delays_ms else np.empty(0)
    return summary("collector (OpcUaFleetCollector)", cpu_s, wall_s, sink.samples, delays)


def summary(name: str, cpu_s: float, wall_s: float, samples: int, delays_ms: np.ndarray) -> dict[str, Any]:
    return {
        "name": name,
        "cpu_pct": 100.0 * cpu_s / wall_s,
        "samples_per_s": samples / wall_s,
        "p50_ms": float(np.percentile(delays_ms, 50)) if len(delays_ms) else math.nan,
        "p99_ms": float(np.percentile(delays_ms, 99)) if len(delays_ms) else math.nan,
    }


async def main_async(args: argparse.Namespace) -> int:
    plant = bench_plant(args.robots)
    cmd = [sys.executable, "-m", "bench.opcua_fleet", "--serve", "--robots", str(args.robots)]
    if args.no_churn:
        cmd.append("--no-churn")
    proc = subprocess.Popen(  # noqa: ASYNC220  # started once; its stdout is read in an executor
        cmd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = await asyncio.get_running_loop().run_in_executor(None, proc.stdout.readline)
        url = url.strip()
        if not url.startswith("opc.tcp://"):
            raise SystemExit(f"the simulator did not start (got {url!r})")
        n_items = args.robots * len(plant.fleets[0].variables)
        print(
            f"simulator (subprocess {proc.pid}) at {url}: {args.robots} robots, {n_items} monitored items,"
            f" 1 s sampling/publishing, churn={'off' if args.no_churn else 'on'}, {args.duration:.0f} s per run"
        )
        rows = []
        for _ in range(args.runs):
            rows.append(await run_baseline(plant, url, args.duration))
            rows.append(await run_collector(plant, url, args.duration))
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    print(f"{'client':34s} {'CPU %':>7s} {'samples/s':>10s} {'p50 ms':>8s} {'p99 ms':>8s}")
    for row in rows:
        print(
            f"{row['name']:34s} {row['cpu_pct']:7.2f} {row['samples_per_s']:10.0f} {row['p50_ms']:8.0f}"
            f" {row['p99_ms']:8.0f}"
        )
    base = [r for r in rows if r["name"].startswith("baseline")]
    ours = [r for r in rows if r["name"].startswith("collector")]
    for key in ("cpu_pct", "p50_ms", "p99_ms"):
        b, o = statistics.median(r[key] for r in base), statistics.median(r[key] for r in ours)
        print(f"median {key:8s}: collector {o:8.2f}  baseline {b:8.2f}  ratio {o / b if b else math.nan:5.2f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--robots", type=int, default=100)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds measured per run")
    parser.add_argument("--runs", type=int, default=1, help="baseline/collector pairs (medians reported)")
    parser.add_argument("--no-churn", action="store_true", help="only the simulated robots' own changes")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(serve(args.robots, churn=not args.no_churn))
        return 0
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
