"""The on-disk spool: records survive, torn tails and corruption are skipped, acks delete, one owner."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopfloor.store import StoreError
from shopfloor.store.influx.spool import HEADER_SIZE, Spool, encode_record, parse_records


def payload(i: int, lines: int = 1) -> bytes:
    return b"\n".join(f"m,equipment=p{i} f={i}.{k} {i}".encode() for k in range(lines))


def drain(spool: Spool, max_lines: int = 1000) -> list[bytes]:
    """Read and ack everything durable, in order."""
    out: list[bytes] = []
    while (chunk := spool.read_chunk(max_lines)) is not None:
        out += [r.payload for r in chunk.records]
        spool.ack(chunk)
    return out


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("seg-*.spool"))


def test_records_come_back_in_order_only_once_durable(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for i in range(5):
        spool.append(payload(i, 3), 3)
    assert spool.read_chunk(100) is None  # appended but not yet synced: not readable, not "durable"
    assert spool.sync()
    chunk = spool.read_chunk(100)
    assert chunk is not None and [r.payload for r in chunk.records] == [payload(i, 3) for i in range(5)]
    assert chunk.lines == 15
    spool.close()


def test_unacked_records_are_replayed_after_reopen_and_acked_ones_are_not(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for i in range(10):
        spool.append(payload(i), 1)
    spool.sync()
    first = spool.read_chunk(4)
    assert first is not None and len(first.records) == 4
    spool.ack(first)
    spool.close()
    spool = Spool(tmp_path)
    assert drain(spool) == [payload(i) for i in range(4, 10)]
    spool.append(payload(99), 1)
    spool.sync()
    assert drain(spool) == [payload(99)]
    spool.close()
    spool = Spool(tmp_path)
    assert drain(spool) == []  # everything was acknowledged
    spool.close()


def test_rotation_and_acked_segments_are_deleted(tmp_path: Path) -> None:
    spool = Spool(tmp_path, segment_max_bytes=200)
    for i in range(20):
        spool.append(payload(i), 1)
        spool.sync()
    assert len(segments(tmp_path)) > 3
    assert drain(spool, max_lines=3) == [payload(i) for i in range(20)]
    assert len(segments(tmp_path)) <= 1  # only the active segment is left
    spool.close()


def test_torn_tail_is_skipped_and_the_rest_kept(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for i in range(3):
        spool.append(payload(i), 1)
    spool.close()
    [segment] = segments(tmp_path)
    with open(segment, "ab") as f:  # what a kill in the middle of a write leaves behind
        f.write(encode_record(payload(3), 1)[: HEADER_SIZE + 5])
    spool = Spool(tmp_path)
    spool.append(payload(4), 1)
    spool.sync()
    assert drain(spool) == [payload(0), payload(1), payload(2), payload(4)]
    assert spool.skipped_bytes == HEADER_SIZE + 5
    spool.close()


def test_corrupt_record_in_the_middle_is_skipped(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for i in range(3):
        spool.append(payload(i), 1)
    spool.close()
    [segment] = segments(tmp_path)
    data = bytearray(segment.read_bytes())
    second = len(encode_record(payload(0), 1))
    data[second + HEADER_SIZE + 2] ^= 0xFF  # flip a byte of the second record's payload: CRC mismatch
    segment.write_bytes(bytes(data))
    spool = Spool(tmp_path)
    assert drain(spool) == [payload(0), payload(2)]
    spool.close()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.binary(min_size=1, max_size=60), min_size=1, max_size=12), st.data())
def test_any_cut_recovers_exactly_the_complete_records(records: list[bytes], data: st.DataObject) -> None:
    encoded = [encode_record(r, 1) for r in records]
    blob = b"".join(encoded)
    cut = data.draw(st.integers(0, len(blob)))
    # reference: the records that lie wholly before the cut
    complete, end = [], 0
    for raw, enc in zip(records, encoded, strict=True):
        end += len(enc)
        if end <= cut:
            complete.append(raw)
    result = parse_records(blob[:cut], final=True)
    assert [r.payload for r in result.records] == complete
    assert result.consumed == cut
    # and an unfinished (active) segment leaves the incomplete record for later
    partial = parse_records(blob[:cut], final=False)
    assert [r.payload for r in partial.records] == complete and partial.skipped == 0


def test_one_owner_per_spool(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    with pytest.raises(StoreError, match="in use"):
        Spool(tmp_path)
    spool.close()
    Spool(tmp_path).close()  # free again once closed
