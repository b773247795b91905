"""Alert events waiting for the webhook receiver, kept so that a restart of the API does not lose them.

The table ``webhook_outbox`` lives in the annotations file, beside the alert
events themselves (``store/annotations.py``), through a connection of its own
(WAL: the two connections do not block each other for long). A row is an
event's JSON body under its idempotency key, in the order it was offered; the
sender (api/webhook.py) adds what it queues, removes what the receiver took
(2xx) or refused for good (a 4xx it does not retry) and what a full queue
pushed out, and on start resends what is left, oldest first, with the same
keys. Errors are a ``StoreError`` saying which file and what is wrong; the
sender logs them once per stretch and goes on from memory.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shopfloor.store.base import StoreError
from shopfloor.store.diagnose import cannot_open, disk_full, is_disk_full, one_line

_SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL
);
"""


class WebhookOutbox:
    """Thread-safe (one lock around one connection): the sender calls it from worker threads."""

    def __init__(self, path: Path | str) -> None:
        """Raises StoreError if the file cannot be opened; a table that cannot be made yet (a full disk) is made
        at the first call that can."""
        self.path = Path(path)
        self._lock = threading.Lock()
        self._ready = False
        try:
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(cannot_open("annotations file (webhook outbox)", self.path, exc)) from None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _ensure(self) -> None:
        if not self._ready:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
            self._ready = True

    def _problem(self, exc: sqlite3.Error) -> StoreError:
        if is_disk_full(exc):
            return StoreError(disk_full("annotations file (webhook outbox)", self.path, exc))
        return StoreError(f"cannot use the webhook outbox in {self.path}: {one_line(exc)}")

    def apply(self, add: Sequence[dict[str, Any]], remove: Sequence[str]) -> None:
        """Keep the events ``add`` (each with its ``idempotency_key``; one already kept stays where it is) and
        forget the keys ``remove``, in one transaction."""
        if not add and not remove:
            return
        with self._lock:
            try:
                self._ensure()
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.executemany(
                        "INSERT OR IGNORE INTO webhook_outbox (idempotency_key, body) VALUES (?, ?)",
                        [(str(e["idempotency_key"]), json.dumps(e, separators=(",", ":"))) for e in add],
                    )
                    self._db.executemany("DELETE FROM webhook_outbox WHERE idempotency_key = ?", [(k,) for k in remove])
                    self._db.execute("COMMIT")
                except sqlite3.Error:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise self._problem(exc) from None

    def waiting(self, limit: int) -> tuple[list[dict[str, Any]], int]:
        """The newest ``limit`` events kept, oldest first, and how many older ones were dropped to keep to it
        (the queue's bound may have been lowered since they were kept)."""
        with self._lock:
            try:
                if (
                    not self._ready
                    and not self._db.execute(
                        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'webhook_outbox'"
                    ).fetchone()
                ):
                    return [], 0  # never made: nothing waits (and reading writes nothing, full disk or not)
                rows = self._db.execute(
                    "SELECT seq, body FROM webhook_outbox ORDER BY seq DESC LIMIT ?", (limit,)
                ).fetchall()
                dropped = 0
                if len(rows) == limit:
                    dropped = self._db.execute("DELETE FROM webhook_outbox WHERE seq < ?", (rows[-1][0],)).rowcount
            except sqlite3.Error as exc:
                raise self._problem(exc) from None
        return [json.loads(body) for _, body in reversed(rows)], dropped
