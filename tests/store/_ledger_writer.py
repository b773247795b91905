"""A KPI job stand-in for the ledger's SIGKILL test: rewrites a whole ledger in a loop until it is killed.

    python -m tests.store._ledger_writer PATH FIRST_BATCH

Batch ``b`` rewrites every (shift, equipment) row of :func:`batch_rows` with
``annotation_version = b``, in one ``write_ledger`` call, and prints ``b``
once the call has returned: the parent kills on that line, so it knows the
newest batch that was committed before the kill.

The store's sample flusher is set to an hour: a ledger row that reached the
file did so by its own commit, not by the flusher's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from shopfloor.models.ledger import LedgerRow
from shopfloor.store.duckdb_store import DuckDBStore
from tests.models._ledger_rows import printer_row, robot_row

PLANT = "shanghai-1"
SHIFTS = 6
PRINTERS = tuple(f"mso-cpp-{k}" for k in range(1, 21))
ROBOTS = tuple(f"r{k:02d}" for k in range(1, 21))


def batch_rows(b: int) -> list[LedgerRow]:
    """Every row of batch ``b``: 6 shifts of 20 printers and 20 robots, their values made of ``b``."""
    rows = []
    for shift in range(SHIFTS):
        rows += [
            printer_row(shift, p, b * 1000.0 + shift + k / 7, annotation_version=b) for k, p in enumerate(PRINTERS)
        ]
        rows += [robot_row(shift, r, b * 10.0 + shift + k / 3, annotation_version=b) for k, r in enumerate(ROBOTS)]
    return rows


def main(argv: list[str]) -> None:
    store = DuckDBStore(argv[0], PLANT, flush_interval_s=3600.0)
    b = int(argv[1])
    while True:
        store.write_ledger(batch_rows(b))
        print(b, flush=True)
        b += 1


def run_and_kill(path: Path, first: int, batches: int, timeout_s: float = 120.0) -> int:
    """Start the writer at batch ``first``, SIGKILL it as soon as ``batches`` batches are reported committed (it is
    writing a later one then); the last batch it reported before it died."""
    repo = Path(__file__).resolve().parents[2]
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.store._ledger_writer", str(path), str(first)],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stderr is not None
    reported: list[int] = []
    try:
        for line in child.stdout:
            reported.append(int(line))
            if len(reported) == batches:
                os.kill(child.pid, signal.SIGKILL)
                break
        else:
            raise AssertionError(f"writer exited early ({child.wait(timeout_s)}): {child.stderr.read()}")
        # what it printed before the kill landed, not yet read: committed too
        reported += [int(line) for line in child.stdout]
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(timeout_s)
        child.stdout.close()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    return reported[-1]


if __name__ == "__main__":
    main(sys.argv[1:])
