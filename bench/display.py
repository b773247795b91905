"""Display benchmark: live message size and browser render time, 3 lines and 100 robots against the shipped plant.

    python -m bench display [--updates 20] [--lines 3] [--robots 100]

For each plant (the shipped one: 1 line, 12 robots; and ``many_lines_plant``:
``--lines`` lines, ``--robots`` robots in two fleets) the same moment of live
data (bench/_display_world.py) goes into an embedded DuckDB store and the live
hub, and the real app is served on a free 127.0.0.1 port. Measured, in the
same run for both plants:

* the size in bytes of the live channel's ``status`` and ``kpi`` messages as a
  WebSocket client receives them (UTF-8), and what can then wait for one client
  that does not read: its queue holds 256 messages, at most one snapshot of each
  kind (api/live.py), the rest state changes;
* the server's time to build one ``status`` and one ``kpi`` snapshot (median),
  against their cadences (1 s, 2 s): a snapshot must take well under its interval;
* in headless Chromium at 1920x1080, the time the page takes to draw one live
  ``status`` update, layout included (``performance.now()`` around the render,
  in the page; median of ``--updates`` updates after the first, which builds the tiles).

Figures are printed with the ratio of the big plant to the shipped one (the machines are shared and noisy),
against the ratio of their items (lines + robots): a cost that grows no faster than the plant meets it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench._display_world import live_moment, many_lines_plant
from bench._timing import median_s, ratio_line, time_line

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
QUEUE_MESSAGES = 256  # api.live.LiveHub's queue per client
WAIT_S = 120.0  # against a hang only


@dataclass
class Figures:
    label: str
    lines: int
    robots: int
    status_bytes: int
    kpi_bytes: int
    state_bytes: int
    status_build_s: float
    kpi_build_s: float
    first_render_ms: float
    render_ms: float


def _serve(app: Any, api: Any) -> tuple[Any, int, threading.Thread]:
    from shopfloor.api.server import build_server

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = build_server(app, api, access_log=False)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT_S
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    return server, int(sock.getsockname()[1]), thread


async def _state_bytes(plant: Any) -> int:
    """Bytes of one pushed state change (the longest labels): what fills a slow client's queue."""
    from shopfloor.api.live import LiveHub
    from shopfloor.models.contract import MEASUREMENT_ROBOT
    from shopfloor.models.samples import SampleBatch
    from shopfloor.models.states import Quality, RobotState

    hub = LiveHub(plant)
    sub = hub.subscribe()
    robot = plant.fleets[-1].robots[-1].id
    hub.write(
        SampleBatch.from_rows(
            MEASUREMENT_ROBOT, [(1, robot, "state", float(RobotState.SELF_CHARGING), Quality.GOOD, "")]
        )
    )
    message = await asyncio.wait_for(sub.get(), WAIT_S)
    return len(json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode())


async def _message_sizes(port: int) -> tuple[int, int]:
    """Bytes of the first status and kpi messages a client receives, as sent (UTF-8 text frames)."""
    import websockets

    sizes: dict[str, int] = {}
    async with websockets.connect(f"ws://127.0.0.1:{port}/api/v1/live", max_size=None) as ws:
        while len(sizes) < 2:
            raw = await asyncio.wait_for(ws.recv(), WAIT_S)
            data = raw.encode() if isinstance(raw, str) else raw
            kind = json.loads(data)["type"]
            if kind in ("status", "kpi"):
                sizes.setdefault(kind, len(data))
    return sizes["status"], sizes["kpi"]


def _render_ms(port: int, updates: int) -> tuple[float, float]:
    """(first render, median of the next ``updates``) in ms, as the page measured them."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            page.goto(f"http://127.0.0.1:{port}/?lang=zh")
            page.wait_for_function(f"(window.__renders || 0) >= {updates + 1}", timeout=WAIT_S * 1000)
            times = page.evaluate("window.__renderTimes.slice()")
        finally:
            browser.close()
    return float(times[0]), statistics.median(times[1 : updates + 1])


def measure(label: str, lines: int | None, robots: int, updates: int, folder: Path) -> Figures:
    from shopfloor.api.app import create_app
    from shopfloor.api.live import LiveHub
    from shopfloor.api.settings import ApiConfig
    from shopfloor.api.snapshots import kpi_snapshot, status_snapshot
    from shopfloor.models.plant import load_plant
    from shopfloor.store.annotations import AnnotationStore
    from shopfloor.store.duckdb_store import DuckDBStore

    plant = load_plant() if lines is None else many_lines_plant(lines, robots)
    store = DuckDBStore(folder / f"{label}.duckdb", plant.plant.id)
    notes = AnnotationStore(folder / f"{label}.sqlite3")
    hub = LiveHub(plant)
    live_moment(plant, time.time_ns(), [store, hub])
    store.flush()
    # Status snapshots four times a second, so the page has updates to time without a long wait; no KPI cache,
    # so a kpi snapshot's time is the computation the snapshot task pays every 2 s, not a cache hit.
    config = ApiConfig(plant.api.api_keys_env, snapshot_interval_s=0.25, kpi_snapshot_interval_s=2.0, kpi_cache_s=0.0)
    app = create_app(plant, store, live_hub=hub, annotations=notes, config=config)
    services = app.state.services
    status_s = median_s(lambda: status_snapshot(services), repeats=9)
    kpi_s = median_s(lambda: kpi_snapshot(services), repeats=9)
    server, port, thread = _serve(app, plant.api)
    try:
        status_bytes, kpi_bytes = asyncio.run(_message_sizes(port))
        state_bytes = asyncio.run(_state_bytes(plant))
        first_ms, render_ms = _render_ms(port, updates)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        notes.close()
        store.close()
    n_robots = sum(len(f.robots) for f in plant.fleets)
    return Figures(
        label, len(plant.printers), n_robots, status_bytes, kpi_bytes, state_bytes, status_s, kpi_s, first_ms, render_ms
    )


def report(base: Figures, big: Figures) -> None:
    for f in (base, big):
        print(f"\n{f.label}: {f.lines} line(s), {f.robots} robots")
        print(f"{'live status message':<44} {f.status_bytes:>10,} B")
        print(f"{'live kpi message':<44} {f.kpi_bytes:>10,} B")
        waiting_kb = (f.status_bytes + f.kpi_bytes + (QUEUE_MESSAGES - 2) * f.state_bytes) / 1e3
        print(f"{'live state message':<44} {f.state_bytes:>10,} B")
        print(f"{'waiting for a client that does not read':<44} {waiting_kb:>10.0f} kB")
        print(time_line("status snapshot built (interval 1 s)", f.status_build_s))
        print(time_line("kpi snapshot built (interval 2 s)", f.kpi_build_s))
        print(time_line("page: first status drawn (tiles made)", f.first_render_ms / 1e3))
        print(time_line("page: one status update drawn (median)", f.render_ms / 1e3))
    scale = (big.lines + big.robots) / (base.lines + base.robots)
    target = f"<= {scale:.1f}x"
    print(f"\n{big.label} against {base.label} ({scale:.1f}x the lines + robots):")
    for label, ratio in (
        ("status message size", big.status_bytes / base.status_bytes),
        ("kpi message size", big.kpi_bytes / base.kpi_bytes),
        ("status snapshot build time", big.status_build_s / base.status_build_s),
        ("kpi snapshot build time", big.kpi_build_s / base.kpi_build_s),
        ("page: one update drawn", big.render_ms / base.render_ms),
    ):
        print(ratio_line(label, ratio, target, ratio <= scale))
    within = big.status_build_s < 0.5 and big.kpi_build_s < 1.0
    print(f"{'snapshots within half their interval':<44} {'yes' if within else 'NO'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--updates", type=int, default=20, help="status updates timed in the page (after the first)")
    parser.add_argument("--lines", type=int, default=3)
    parser.add_argument("--robots", type=int, default=100)
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing (apt-get install chromium)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        base = measure("shipped", None, 0, args.updates, Path(tmp))
        big = measure(f"{args.lines}-lines", args.lines, args.robots, args.updates, Path(tmp))
    report(base, big)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
