"""A durable, append-only on-disk spool: what was written waits here until InfluxDB acknowledges it.

Files in the spool directory::

    LOCK                    flock()ed by the one process that owns the spool
    seg-000000000001.spool  segments, appended in order, never rewritten
    ack                     "<segment> <offset>": everything before it was acknowledged
    dead-letter.jsonl       points the server rejected as malformed, with the reason, and
                            batches the store refused (data contract), as rows

A record is ``MAGIC | payload length (u32 LE) | line count (u32 LE) | CRC32 of
payload (u32 LE) | payload`` (the payload is line protocol). ``append`` goes
to the process's file buffer; ``sync`` flushes and fsyncs it, so a SIGKILL
loses at most what was appended since the last sync. ``append_durable`` (the
KPI ledger) does both before it returns, or raises. A record torn by a kill
(short, or a CRC that does not match) is detected on reading: the reader
skips to the next record that checks out and logs how many bytes it dropped.

Segments are never appended to after a restart (the old tail may be torn):
each open starts a new one. A segment is deleted once the ack position has
passed it. Replaying an acknowledged record twice (a kill between the
server's answer and the ack file) is harmless: InfluxDB stores one point per
series, field and timestamp, so a re-sent point overwrites itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import struct
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from shopfloor.store.base import StoreError, StoreUnavailable
from shopfloor.store.dead_letters import DeadLetters
from shopfloor.store.diagnose import disk_full, is_disk_full, one_line
from shopfloor.store.outage import OutageLog

log = logging.getLogger(__name__)

MAGIC = b"SPL1"
_HEADER = struct.Struct("<4sIII")  # magic, payload length, line count, crc32
HEADER_SIZE = _HEADER.size
MAX_RECORD_BYTES = 1 << 30  # a length above this is corruption, not a record
_SEGMENT = re.compile(r"^seg-(\d{12})\.spool$")


def encode_record(payload: bytes, lines: int) -> bytes:
    return _HEADER.pack(MAGIC, len(payload), lines, zlib.crc32(payload)) + payload


@dataclass(frozen=True, slots=True)
class Record:
    payload: bytes
    lines: int


@dataclass(frozen=True, slots=True)
class ParseResult:
    records: list[Record]
    consumed: int  # bytes of the buffer used (records + skipped garbage)
    skipped: int  # bytes of garbage skipped


def parse_records(buf: bytes, *, final: bool, max_lines: int | None = None) -> ParseResult:
    """Records at the start of ``buf``; garbage between valid records is skipped.

    ``final``: ``buf`` runs to the end of a closed segment, so an incomplete
    record at its end is a torn tail (skipped). Otherwise an incomplete record
    is left for later. Stops once ``max_lines`` lines are collected.
    """
    records: list[Record] = []
    pos = skipped = lines = 0
    n = len(buf)
    while pos < n and (max_lines is None or lines < max_lines):
        if n - pos < HEADER_SIZE:
            if final:
                skipped += n - pos
                pos = n
            break
        magic, length, count, crc = _HEADER.unpack_from(buf, pos)
        if magic == MAGIC and length <= MAX_RECORD_BYTES:
            end = pos + HEADER_SIZE + length
            if end > n:
                if final:
                    skipped += n - pos
                    pos = n
                break
            payload = buf[pos + HEADER_SIZE : end]
            if zlib.crc32(payload) == crc:
                records.append(Record(payload, count))
                lines += count
                pos = end
                continue
        # Not a valid record here: resynchronise on the next magic.
        nxt = buf.find(MAGIC, pos + 1)
        stop = n if nxt < 0 else nxt
        skipped += stop - pos
        pos = stop
    return ParseResult(records, pos, skipped)


@dataclass(frozen=True, slots=True)
class Position:
    segment: int
    offset: int


@dataclass(frozen=True, slots=True)
class Chunk:
    records: list[Record]
    end: Position  # the ack position once this chunk is delivered

    @property
    def lines(self) -> int:
        return sum(r.lines for r in self.records)


class Spool:
    def __init__(self, directory: Path | str, *, segment_max_bytes: int = 16 << 20) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.segment_max_bytes = segment_max_bytes
        self._lock_file = open(self.directory / "LOCK", "a+")  # noqa: SIM115  # held until close
        try:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            raise StoreError(f"spool {self.directory} is in use by another store (one writer per spool)") from None
        self.dead_letters = DeadLetters(self.directory / "dead-letter.jsonl")
        self._lock = threading.Lock()
        self._ack_path = self.directory / "ack"
        self.skipped_bytes = 0
        existing = sorted(int(m.group(1)) for p in self.directory.iterdir() if (m := _SEGMENT.match(p.name)))
        self._ack = self._read_ack(existing)
        for seq in [s for s in existing if s < self._ack.segment]:
            self._segment_path(seq).unlink(missing_ok=True)
        self._closed_segments = [s for s in existing if s >= self._ack.segment]
        self._active_seq = max(existing, default=0) + 1
        self._active: IO[bytes] = open(self._segment_path(self._active_seq), "ab")  # noqa: SIM115  # open until rolled
        self._durable_end = 0  # bytes of the active segment known to be on disk
        self._written = 0  # bytes appended to the active segment
        self._appended_records = 0
        # A full disk: appends that do not fit are dropped and counted, fsyncs retried; said as an outage
        # (start, once a minute, end), never a traceback per attempt.
        self.problem: str | None = None
        self.dropped_lines = 0
        self._unsynced_lines = 0  # appended, not yet fsynced
        self._unsynced_since: float | None = None  # monotonic time of the oldest of them
        self._outage = OutageLog(log, f"InfluxDB spool {self.directory}")
        if self._ack.segment not in self._closed_segments:
            self._ack = Position(self._closed_segments[0] if self._closed_segments else self._active_seq, 0)
        self.closed = False

    # ------------------------------------------------------------- writing

    def _segment_path(self, seq: int) -> Path:
        return self.directory / f"seg-{seq:012d}.spool"

    def append(self, payload: bytes, lines: int) -> None:
        """Add one record (not yet durable: see :meth:`sync`)."""
        if not payload:
            return
        record = encode_record(payload, lines)
        with self._lock:
            if self.closed:
                raise StoreError("spool is closed")
            try:
                self._active.write(record)
            except OSError as exc:
                self._append_failed(exc, lines)
                return
            self._accepted(record, lines)

    def append_durable(self, payload: bytes, lines: int) -> None:
        """Add one record and fsync it before returning: for writes whose caller is told they are kept.

        Raises :class:`StoreUnavailable` with the reason (disk full) when it
        cannot be made durable; the caller keeps what it wrote and tries again.
        The segment holds the record whole or not at all either way; one still
        in the file buffer may reach the disk, whole, with a later sync (records
        written this way must be harmless to receive twice: ledger rows are).
        """
        if not payload:
            return
        record = encode_record(payload, lines)
        with self._lock:
            if self.closed:
                raise StoreError("spool is closed")
            try:
                self._active.write(record)
            except OSError as exc:
                self._cut_partial_record()
                self._failed(exc)
                raise StoreUnavailable(f"{self.problem}; not spooled") from None
            self._accepted(record, lines)
            if self._sync_locked() is not None:
                raise StoreUnavailable(f"{self.problem}; not on disk yet")

    def _accepted(self, record: bytes, lines: int) -> None:
        self._written += len(record)
        self._appended_records += 1
        self._unsynced_lines += lines
        if self._unsynced_since is None:
            self._unsynced_since = time.monotonic()

    def _append_failed(self, exc: OSError, lines: int) -> None:
        """The record did not fit (disk full): dropped and counted, and the segment kept whole."""
        self._cut_partial_record()
        self.dropped_lines += lines
        self._failed(exc)

    def _cut_partial_record(self) -> None:
        """After a failed append: the file buffer either failed to pass on older, accepted bytes (they stay
        buffered, in order: nothing torn) or wrote part of this record itself; that part is cut off again, so
        the segment holds whole records only."""
        size = os.fstat(self._active.fileno()).st_size
        if size > self._written:
            os.ftruncate(
                self._active.fileno(), self._written
            )  # the segment is opened O_APPEND: writes go on at the end

    def _failed(self, exc: OSError) -> None:
        reason = (
            disk_full("spool", self.directory, exc) if is_disk_full(exc) else f"spool {self.directory}: {one_line(exc)}"
        )
        self.problem = reason
        self._outage.failed(reason, f"{self.dropped_lines:,} lines dropped since start")

    def sync(self) -> bool:
        """Flush and fsync what was appended; True if anything new became durable."""
        with self._lock:
            if self.closed or self._written == self._durable_end:
                return False
            return self._sync_locked() is None

    def _sync_locked(self) -> OSError | None:
        """Flush and fsync, holding the lock; the error when it failed (said by the outage log)."""
        try:
            self._active.flush()
            os.fsync(self._active.fileno())
        except OSError as exc:  # what was appended stays in the file buffer, in order, for the next sync
            self._failed(exc)
            return exc
        self._durable_end = self._written
        self._unsynced_lines = 0
        self._unsynced_since = None
        if self.problem is not None:
            self.problem = None
            self._outage.recovered(f"{self.dropped_lines:,} lines dropped since start")
        if self._written >= self.segment_max_bytes:
            self._rotate()
        return None

    def unsynced(self) -> tuple[int, float]:
        """Lines appended and not yet on disk, and how long the oldest of them has waited (s)."""
        with self._lock:
            since = self._unsynced_since
            return self._unsynced_lines, 0.0 if since is None else max(0.0, time.monotonic() - since)

    def _rotate(self) -> None:
        self._active.close()
        self._closed_segments.append(self._active_seq)
        self._active_seq += 1
        self._active = open(self._segment_path(self._active_seq), "ab")  # noqa: SIM115  # open until rolled or closed
        self._written = self._durable_end = 0

    # ------------------------------------------------------------- reading

    def read_chunk(self, max_lines: int) -> Chunk | None:
        """Durable records after the ack position, up to about ``max_lines`` lines; None if there are none."""
        with self._lock:
            pos = self._ack
            segments = list(self._closed_segments)
            active, durable_end = self._active_seq, self._durable_end
        records: list[Record] = []
        lines = 0
        while lines < max_lines:
            final = pos.segment != active
            if final and pos.segment not in segments:
                break
            path = self._segment_path(pos.segment)
            with open(path, "rb") as f:
                f.seek(pos.offset)
                buf = f.read() if final else f.read(max(0, durable_end - pos.offset))
            result = parse_records(buf, final=final, max_lines=max_lines - lines)
            if result.skipped:
                self.skipped_bytes += result.skipped
                log.warning(
                    "spool %s: skipped %d bytes of a torn or corrupt record in %s",
                    self.directory,
                    result.skipped,
                    path.name,
                )
            records += result.records
            lines += sum(r.lines for r in result.records)
            new_offset = pos.offset + result.consumed
            if final and new_offset >= pos.offset + len(buf):
                # whole closed segment consumed: continue with the next one
                later = [s for s in segments if s > pos.segment] + ([active] if active > pos.segment else [])
                pos = Position(min(later), 0) if later else Position(pos.segment, new_offset)
                if not later:
                    break
                continue
            pos = Position(pos.segment, new_offset)
            break
        if pos == self._ack:
            return None
        return Chunk(records, pos)

    def ack(self, chunk: Chunk) -> None:
        """Everything up to ``chunk.end`` was delivered (or dead-lettered): forget it."""
        with self._lock:
            self._ack = chunk.end
            gone = [s for s in self._closed_segments if s < chunk.end.segment]
            self._closed_segments = [s for s in self._closed_segments if s >= chunk.end.segment]
        tmp = self._ack_path.with_suffix(".tmp")
        try:
            tmp.write_text(f"{chunk.end.segment} {chunk.end.offset}\n")
            os.replace(tmp, self._ack_path)
        except OSError as exc:
            # A full disk must not stop the sender. The position is kept in memory and written with the next
            # ack; a restart before that re-sends from the older position (re-sent points overwrite themselves).
            with self._lock:
                self._failed(exc)
        for seq in gone:  # deleting what was delivered frees space: all the more on a full disk
            self._segment_path(seq).unlink(missing_ok=True)

    def _read_ack(self, existing: list[int]) -> Position:
        try:
            seg, off = self._ack_path.read_text().split()
            return Position(int(seg), int(off))
        except FileNotFoundError:
            return Position(existing[0] if existing else 0, 0)
        except (ValueError, OSError):
            # An unreadable ack file: replay everything (re-sent points overwrite themselves).
            log.warning("spool %s: unreadable ack file, replaying from the first segment", self.directory)
            return Position(existing[0] if existing else 0, 0)

    @property
    def ack_position(self) -> Position:
        with self._lock:
            return self._ack

    @property
    def end_position(self) -> Position:
        """Position after the last appended record (durable or not)."""
        with self._lock:
            return Position(self._active_seq, self._written)

    def backlog_bytes(self) -> int:
        """Bytes spooled and not yet acknowledged (approximate: whole closed segments count)."""
        with self._lock:
            pos, segments, active, written = self._ack, list(self._closed_segments), self._active_seq, self._written
        total = 0
        for seq in segments:
            with contextlib.suppress(FileNotFoundError):
                total += self._segment_path(seq).stat().st_size
        total += written
        if pos.segment in segments or pos.segment == active:
            total -= pos.offset
        return max(total, 0)

    def close(self) -> None:
        with self._lock:
            if self.closed:
                return
            self._active.flush()
            os.fsync(self._active.fileno())
            self._durable_end = self._written
            self._active.close()
            self.closed = True
            empty = self._written == 0
            active = self._active_seq
        if empty:
            self._segment_path(active).unlink(missing_ok=True)
        fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)
        self._lock_file.close()
