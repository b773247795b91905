"""The InfluxDB spool on a real full disk (a tiny tmpfs): appends that do not fit are dropped and counted, the
segment keeps whole records only, fsync and ack failures are said once - and when space returns, every record
that was accepted is read back intact, in order."""

from __future__ import annotations

import logging
import random
from pathlib import Path

import pytest

from shopfloor.store.influx.spool import Spool
from tests.fixtures.tmpfs import fill, free


def payload(i: int, size: int) -> bytes:
    """One record's line protocol: ``i`` in its first line, padded to about ``size`` bytes."""
    head = f"m,equipment=p f={i} {i}".encode()
    return head + b"\n" + b"x" * max(0, size - len(head) - 1)


def test_a_full_disk_drops_and_counts_what_does_not_fit_and_keeps_the_segment_whole(
    tiny_fs: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="shopfloor.store.influx.spool")
    spool = Spool(tiny_fs / "spool")
    rng = random.Random(3)
    accepted: list[int] = []
    filler = fill(tiny_fs, leave_bytes=256 << 10)
    i = 0
    # Records from 100 B to 40 KB: small ones wait in the file buffer, large ones are written past it (and may be
    # written in part before the disk refuses the rest).
    while spool.dropped_lines == 0 or i < 200:
        before = spool.dropped_lines
        spool.append(payload(i, rng.choice([100, 3000, 40_000])), 2)
        if spool.dropped_lines == before:
            accepted.append(i)
        spool.sync()  # fails without raising while the disk is full
        i += 1
    assert spool.problem is not None and spool.problem.startswith("no space left on device: cannot write spool")
    assert spool.sync() is False or spool.problem is None

    free(filler)
    spool.append(payload(i, 100), 2)
    accepted.append(i)
    assert spool.sync()
    assert spool.problem is None

    got: list[int] = []
    while (chunk := spool.read_chunk(1000)) is not None:
        got += [int(r.payload.split(b" ")[-1].split(b"\n")[0]) for r in chunk.records]
        spool.ack(chunk)
    assert got == accepted, "every accepted record, once, in order"
    assert spool.skipped_bytes == 0, "no torn record in the segment"
    assert spool.dropped_lines == 2 * (i - len(accepted) + 1)
    spool.close()

    said = [r for r in caplog.records if "no space" in r.getMessage() or "works again" in r.getMessage()]
    assert [r.levelno for r in said] == [logging.ERROR, logging.WARNING]
    assert all(r.exc_info is None for r in caplog.records)


def test_an_ack_on_a_full_disk_does_not_raise_and_still_frees_space(tiny_fs: Path) -> None:
    spool = Spool(tiny_fs / "spool", segment_max_bytes=4096)
    for i in range(20):
        spool.append(payload(i, 1000), 1)
        spool.sync()  # rotates: closed segments to delete once acknowledged
    filler = fill(tiny_fs)
    chunk = spool.read_chunk(1000)
    assert chunk is not None
    spool.ack(chunk)  # the ack file cannot be written; the sender thread must not die of it
    assert spool.problem is not None and "no space left on device" in spool.problem
    assert len(list((tiny_fs / "spool").glob("seg-*.spool"))) <= 2  # delivered segments deleted all the same
    free(filler)
    spool.close()
