"""The embedded store's memory buffer: samples accepted and not committed yet, bounded, oldest first.

Normally it holds one flush interval of batches. While commits fail (disk
full) it grows, so it has a bound: a batch that would pass ``max_rows`` is
dropped and counted (``dropped``), never held in memory without limit. While
it grows, every ``COMPACT_EVERY`` small chunks of a table are concatenated into
one, so a long outage costs the rows' own bytes (about 40 per sample), not a
few hundred bytes of per-array overhead per poll.

A flush takes a :class:`Piece` out (the oldest chunks, up to a row budget)
and then reports it ``committed`` or ``restore``\\ s it to the front, so order is
kept and nothing is lost; a piece whose outcome is not known yet stays out,
still counted, until the store finds out.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

Columns = dict[str, np.ndarray[Any, Any]]
COMPACT_EVERY = 64


@dataclass(frozen=True, slots=True)
class Chunk:
    accepted_s: float  # clock reading when it was accepted (for the commit lag)
    columns: Columns
    rows: int


@dataclass(frozen=True, slots=True)
class Piece:
    """What one transaction commits: per table, the oldest chunks in order."""

    tables: dict[str, list[Chunk]]
    rows: int
    accepted_s: float

    def columns(self, table: str) -> Columns | None:
        chunks = self.tables.get(table)
        if not chunks:
            return None
        if len(chunks) == 1:
            return chunks[0].columns
        return {name: np.concatenate([c.columns[name] for c in chunks]) for name in chunks[0].columns}


def _merge(chunks: list[Chunk]) -> Chunk:
    columns = {name: np.concatenate([c.columns[name] for c in chunks]) for name in chunks[0].columns}
    return Chunk(chunks[0].accepted_s, columns, sum(c.rows for c in chunks))


class PendingRows:
    def __init__(self, tables: Iterable[str], max_rows: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_rows = max_rows
        self.dropped = 0  # rows refused because the bound was reached
        self._clock = clock
        self._lock = threading.Lock()
        self._queue: dict[str, deque[Chunk]] = {t: deque() for t in tables}
        self._small: dict[str, int] = dict.fromkeys(self._queue, 0)  # uncompacted chunks at each queue's tail
        self._out: Piece | None = None
        self._rows = 0  # queued + out

    @property
    def rows(self) -> int:
        return self._rows

    def add(self, chunks: list[tuple[str, Columns]]) -> bool:
        """Queue one batch's chunks (all or nothing); False when that would pass the bound (then counted)."""
        n = sum(len(cols["ts_ns"]) for _, cols in chunks)
        with self._lock:
            if self._rows + n > self.max_rows:
                self.dropped += n
                return False
            now = self._clock()
            for table, cols in chunks:
                queue = self._queue[table]
                queue.append(Chunk(now, cols, len(cols["ts_ns"])))
                self._small[table] += 1
                if self._small[table] >= COMPACT_EVERY:
                    tail = [queue.pop() for _ in range(COMPACT_EVERY)][::-1]
                    queue.append(_merge(tail))
                    self._small[table] = 0
            self._rows += n
        return True

    def take(self, max_rows: int) -> Piece | None:
        """The oldest queued chunks, up to about ``max_rows`` per table; None when nothing is queued."""
        with self._lock:
            if self._out is not None:
                raise RuntimeError("a piece is already out")
            tables: dict[str, list[Chunk]] = {}
            for table, queue in self._queue.items():
                taken: list[Chunk] = []
                rows = 0
                while queue and (not taken or rows + queue[0].rows <= max_rows):
                    chunk = queue.popleft()
                    taken.append(chunk)
                    rows += chunk.rows
                if taken:
                    tables[table] = taken
                    self._small[table] = min(self._small[table], len(queue))
            if not tables:
                return None
            chunks = [c for cs in tables.values() for c in cs]
            piece = Piece(tables, sum(c.rows for c in chunks), min(c.accepted_s for c in chunks))
            self._out = piece
            return piece

    def committed(self) -> None:
        with self._lock:
            if self._out is not None:
                self._rows -= self._out.rows
                self._out = None

    def restore(self) -> None:
        """Put the piece back in front, so the next attempt commits it first, in order."""
        with self._lock:
            if self._out is None:
                return
            for table, chunks in self._out.tables.items():
                self._queue[table].extendleft(reversed(chunks))
            self._out = None

    def oldest_age_s(self) -> float:
        """How long the oldest row not yet committed has waited (0 when everything is committed)."""
        with self._lock:
            times = [q[0].accepted_s for q in self._queue.values() if q]
            if self._out is not None:
                times.append(self._out.accepted_s)
            return max(0.0, self._clock() - min(times)) if times else 0.0
