"""``python -m bench``: every benchmark, one after another, each in its own process.

Each prints its figures as ratios against a baseline measured in the same
run (the machines are shared and noisy). ``python -m bench kpi api`` runs a
subset; any further options go to a single benchmark run on its own
(``python -m bench.kpi --help``).
"""

from __future__ import annotations

import subprocess
import sys
import time

BENCHMARKS = ("modbus_requests", "ingest", "opcua_fleet", "kpi", "api", "soak", "ledger", "display", "alerts")


def main(argv: list[str] | None = None) -> int:
    names = list(argv if argv is not None else sys.argv[1:]) or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    failed = []
    for name in names:
        print(f"\n=== bench.{name} ===", flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, "-m", f"bench.{name}"])
        print(f"=== bench.{name}: exit {code} after {time.monotonic() - started:.0f} s ===", flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
