"""What only the embedded store has to prove: kills, one process per file, threads, the plant check."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from shopfloor.store import StoreError
from shopfloor.store.duckdb_store import DuckDBStore
from tests.store import _killed_writer
from tests.store._batches import T0, S, as_dict, good

PLANT = "shanghai-1"


def test_sigkilled_writer_loses_at_most_one_flush_interval(tmp_path: Path) -> None:
    path = tmp_path / "kill.duckdb"
    flush_s, margin_s = 0.2, 1.0  # margin: a loaded machine may run the flusher late
    written, _kill_time = _killed_writer.run_and_kill(
        ["duckdb", str(path), str(flush_s)], min_batches=60, min_seconds=2.5
    )
    with DuckDBStore(path, PLANT) as store:
        got = store.read_series("printer", ["mso-cpp-1"], ["speed_m_min"], T0, T0 + 10**12)
    per_batch = np.bincount(got["mso-cpp-1"]["speed_m_min"].value.astype(int))
    survived = np.flatnonzero(per_batch).tolist()
    assert set(per_batch[survived].tolist()) == {_killed_writer.PER_BATCH}, "a batch is committed whole or not at all"
    assert survived == list(range(len(survived))), "what survives is everything up to some point"
    lost_times = [t for i, t in written.items() if i >= len(survived)]
    # On the writer's own timeline: everything handed over more than one flush interval (plus a margin for
    # the flusher running behind the writing thread) before the newest batch the writer reported has
    # survived. From the kill instead, a writer starved as a whole just before it (no writes and no
    # flushes) would count time in which nothing happened as loss.
    newest = max(written.values())
    assert all(t > newest - flush_s - margin_s for t in lost_times), (len(survived), len(written))
    assert len(survived) >= len(written) // 2


def test_a_second_process_gets_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "busy.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from store.duckdb_store import DuckDBStore;"
            f" s = DuckDBStore({str(path)!r}, {PLANT!r}); print('open', flush=True); sys.stdin.read(); s.close()",
        ],
        cwd=Path(__file__).resolve().parents[2],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with pytest.raises(StoreError, match="one process per file"):
            DuckDBStore(path, PLANT)
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=60)
    DuckDBStore(path, PLANT).close()  # free once the other process is gone


def test_file_of_another_plant_is_refused(tmp_path: Path) -> None:
    DuckDBStore(tmp_path / "p.duckdb", PLANT).close()
    with pytest.raises(StoreError, match="holds plant 'shanghai-1'"):
        DuckDBStore(tmp_path / "p.duckdb", "other-plant")


def test_read_only_open_reads_and_refuses_writes(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dirs" / "ro.duckdb"  # parent directories are created
    with DuckDBStore(path, PLANT) as store:
        store.write(good("printer", [(T0, "mso-cpp-1", "state", 3.0)]))
    with DuckDBStore(path, PLANT, read_only=True) as ro:
        assert as_dict(ro.read_series("printer", ["mso-cpp-1"], ["state"], T0, T0 + S)["mso-cpp-1"]["state"]) == {
            T0: 3.0
        }
        with pytest.raises(StoreError, match="read-only"):
            ro.write(good("printer", [(T0, "mso-cpp-1", "state", 3.0)]))


def test_readers_in_threads_while_a_collector_writes(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "threads.duckdb", PLANT, flush_interval_s=0.05)
    errors: list[BaseException] = []
    done = threading.Event()
    batches, per_batch = 200, 20

    def collector() -> None:
        try:
            for i in range(batches):
                store.write(
                    good(
                        "printer",
                        [
                            (T0 + (i * per_batch + k) * 1000, "mso-cpp-1", "speed_m_min", float(i))
                            for k in range(per_batch)
                        ],
                    )
                )
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            done.set()

    def reader() -> None:
        try:
            seen = 0
            while True:
                finished = done.is_set()
                got = store.read_series("printer", ["mso-cpp-1"], ["speed_m_min"], T0, T0 + 10**12)
                n = len(got["mso-cpp-1"]["speed_m_min"].ts_ns)
                assert n >= seen and n % per_batch == 0, (n, seen)  # never goes back, never half a batch
                seen = n
                store.latest("printer", ["mso-cpp-1"])
                if finished:
                    return
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=collector)] + [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    got = store.read_series("printer", ["mso-cpp-1"], ["speed_m_min"], T0, T0 + 10**12)
    assert len(got["mso-cpp-1"]["speed_m_min"].ts_ns) == batches * per_batch
    assert store.latest("printer", ["mso-cpp-1"])["mso-cpp-1"]["speed_m_min"] == (
        T0 + (batches * per_batch - 1) * 1000,
        float(batches - 1),
    )
    store.close()
