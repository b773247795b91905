"""The dead-letter file: what a store will never store, kept as JSON lines with the reason for a person to look at.

Both backends have one: InfluxDB's spool keeps the lines the server rejected
and the batches the store refused (``<spool>/dead-letter.jsonl``); DuckDB keeps
refused batches beside its file (``<file>.dead-letter.jsonl``).
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any


class DeadLetters:
    """Points the server will never accept, kept with the reason for a person to look at."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def add(self, payload: bytes, status: int | None, reason: str) -> None:
        entry = {
            "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "status": status,
            "reason": reason,
            "lines": payload.decode("utf-8", errors="replace"),
        }
        with self._lock, open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def add_rows(self, rows: list[list[Any]], measurement: object, fleet: object, reason: str) -> None:
        """A batch refused before it reached the spool (it breaks the data contract), kept as plain rows.

        Rows, not line protocol: a refused batch may hold names line protocol cannot carry.
        """
        entry = {
            "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "status": None,
            "reason": reason,
            "measurement": str(measurement),
            "fleet": str(fleet or ""),
            "rows": rows,
        }
        with self._lock, open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def entries(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with open(self.path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
