"""A collector stand-in for the SIGKILL tests: writes batches in a loop until it is killed.

    python -m tests.store._killed_writer duckdb PATH FLUSH_S
    python -m tests.store._killed_writer influxdb URL BUCKET SPOOL_DIR FLUSH_S

After each ``write`` returns it prints ``<batch number> <time.monotonic()>``
(CLOCK_MONOTONIC is the same clock in every process), so the parent knows
when each batch was handed to the store and can bound what a kill may lose.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from shopfloor.models.samples import SampleBatch
from shopfloor.store.duckdb_store import DuckDBStore
from shopfloor.store.influx import InfluxConnection, InfluxStore

T0 = 1_790_000_000_000_000_000
PER_BATCH = 50
PLANT = "shanghai-1"


def batch_for(i: int) -> SampleBatch:
    ts = T0 + i * 1_000_000 + np.arange(PER_BATCH, dtype=np.int64)
    return SampleBatch(
        "printer",
        ts,
        np.full(PER_BATCH, "mso-cpp-1", dtype=object),
        np.full(PER_BATCH, "speed_m_min", dtype=object),
        np.full(PER_BATCH, float(i)),
        np.zeros(PER_BATCH, np.uint8),
        np.full(PER_BATCH, "", dtype=object),
    )


def main(argv: list[str]) -> None:
    if argv[0] == "duckdb":
        store = DuckDBStore(argv[1], PLANT, flush_interval_s=float(argv[2]))
    else:
        url, bucket, spool, flush_s = argv[1:5]
        store = InfluxStore(
            InfluxConnection(
                url=url,
                org="shopfloor",
                bucket=bucket,
                token="t",
                spool_dir=spool,
                flush_interval_s=float(flush_s),
                retry_interval_s=0.05,
                max_retries=3,
            ),
            PLANT,
        )
    i = 0
    while True:
        store.write(batch_for(i))
        print(i, time.monotonic(), flush=True)
        i += 1
        time.sleep(0.01)  # a collector's poll cadence, not synchronisation


def run_and_kill(
    args: list[str], min_batches: int, min_seconds: float, timeout_s: float = 120.0
) -> tuple[dict[int, float], float]:
    """Start the writer, SIGKILL it once it has written enough; (batch -> write time, kill time)."""
    repo = Path(__file__).resolve().parents[2]
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.store._killed_writer", *args],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    written: dict[int, float] = {}
    deadline = time.monotonic() + timeout_s
    assert child.stdout is not None
    try:
        for line in child.stdout:
            i, t = line.split()
            written[int(i)] = float(t)
            if len(written) >= min_batches and written[int(i)] - written[0] >= min_seconds:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"writer too slow: {len(written)} batches in {timeout_s} s")
        else:
            raise AssertionError(f"writer exited early: {child.wait()} {child.stderr.read() if child.stderr else ''}")
        kill_time = time.monotonic()
        os.kill(child.pid, signal.SIGKILL)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        child.stdout.close()
        if child.stderr:
            child.stderr.close()
    # a batch printed after we stopped reading was still handed over before the kill
    return written, kill_time


if __name__ == "__main__":
    main(sys.argv[1:])
