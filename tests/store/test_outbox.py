"""The webhook's outbox in the annotations file (store/outbox.py); the sender's use of it is tested with the
sender (tests/api/test_alerts_webhook.py)."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

from shopfloor.store.annotations import AnnotationStore
from shopfloor.store.outbox import WebhookOutbox


def event(n: int) -> dict[str, Any]:
    return {"type": "alert", "idempotency_key": f"robot-fault.r01.{n}:raised", "alert": {"n": n}}


def keys(events: list[dict[str, Any]]) -> list[str]:
    return [e["idempotency_key"] for e in events]


def test_kept_in_order_once_per_key_forgotten_on_removal_and_trimmed_to_a_bound(tmp_path: Path) -> None:
    notes = AnnotationStore(tmp_path / "annotations.sqlite3")  # the same file as the alert events
    outbox = WebhookOutbox(notes.path)
    try:
        outbox.apply([event(1), event(2), event(3)], [])
        outbox.apply([event(1)], [])  # kept already: stays where it is, not repeated
        assert outbox.waiting(10) == ([event(1), event(2), event(3)], 0)
        outbox.apply([event(4)], [event(2)["idempotency_key"]])
        assert keys(outbox.waiting(10)[0]) == keys([event(1), event(3), event(4)])
        kept, dropped = outbox.waiting(2)  # a lowered bound: the newest two, the older ones dropped
        assert (keys(kept), dropped) == (keys([event(3), event(4)]), 1)
        assert keys(outbox.waiting(10)[0]) == keys([event(3), event(4)])
        assert notes.alerts(active=True) == []  # the annotations' own tables are untouched
    finally:
        outbox.close()
        notes.close()


def test_a_file_without_the_table_has_nothing_waiting_and_reading_it_writes_nothing(tmp_path: Path) -> None:
    notes = AnnotationStore(tmp_path / "annotations.sqlite3")
    outbox = WebhookOutbox(notes.path)
    try:
        assert outbox.waiting(10) == ([], 0)
        with contextlib.closing(sqlite3.connect(notes.path)) as db:
            assert db.execute("SELECT name FROM sqlite_master WHERE name = 'webhook_outbox'").fetchall() == []
    finally:
        outbox.close()
        notes.close()
