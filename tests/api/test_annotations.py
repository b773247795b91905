"""The annotation store: changes and their audit rows land together."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopfloor.store.annotations import AnnotationStore


def test_changes_and_audit_rows_land_together(tmp_path: Path) -> None:
    store = AnnotationStore(tmp_path / "a.sqlite3", clock_ns=lambda: 42)
    with pytest.raises(ValueError):
        store.split_stop("mso-cpp-1", 0, 10, 10, 20, 21, "alice")
    assert store.audit() == [] and store.overrides(["mso-cpp-1"], 0, 100) == []
    measured = [{"start_ns": 0, "end_ns": 15, "reason_code": 22}]
    first = store.set_reason("mso-cpp-1", 0, 10, 20, "alice", measured=measured)
    store.set_reason("mso-cpp-1", 5, 15, 21, "bob", measured=measured)
    entries = store.audit()
    assert [e.operator for e in entries] == ["bob", "alice"]
    assert entries[0].before["overrides"][0]["id"] == first.id  # bob's change shows what it overrode
    # The first correction keeps the measured reason it replaced; so does every later one.
    assert entries[1].before == {"measured": measured, "overrides": []}
    assert entries[0].before["measured"] == measured
    assert [e.ts_ns for e in entries] == [42, 42] and entries[1].after[0]["reason_code"] == 20
    other = AnnotationStore(tmp_path / "a.sqlite3")  # another process sharing the file
    seen = other.version
    store.add_note("r01", 1, "checked", "alice")
    assert other.version != seen  # its KPI cache notices the change
    other.close()
    store.close()


def test_hour_comments_newest_per_hour_with_their_audit(tmp_path: Path) -> None:
    store = AnnotationStore(tmp_path / "a.sqlite3", clock_ns=lambda: 7)
    seen = store.version
    first = store.comment_hour("mso-cpp-1", "2026-11-24/early", 1, 100, "web break", "alice")
    assert store.version != seen  # a reader keyed on the version sees the comment at once
    store.comment_hour("mso-cpp-1", "2026-11-24/early", 2, 200, "slow start", "bob")
    store.comment_hour("mso-cpp-1", "2026-11-24/early", 1, 100, "web break, 15 min", "bob")
    store.comment_hour("mso-cpp-1", "2026-11-24/late", 1, 300, "other shift", "bob")
    shown = store.hour_comments("mso-cpp-1", "2026-11-24/early")
    assert {k: c.text for k, c in shown.items()} == {1: "web break, 15 min", 2: "slow start"}
    assert store.hour_comments("mso-cpp-2", "2026-11-24/early") == {}
    entries = store.audit("mso-cpp-1")
    assert [e.action for e in entries] == ["hour_comment"] * 4
    assert entries[1].before["id"] == first.id and entries[1].after["text"] == "web break, 15 min"
    assert entries[3].before is None  # the first comment on an hour replaced nothing


def test_an_old_file_gains_order_events_and_one_change_sequence(tmp_path: Path) -> None:
    """A file written before order events existed (no order_event table, reason overrides 1..3) opens as it is:
    the table is added in place, and the next ids continue the one change sequence after the overrides, so a
    ledger row's annotation_version from before still compares."""
    import sqlite3

    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE reason_override (id INTEGER PRIMARY KEY AUTOINCREMENT, equipment TEXT NOT NULL,"
        " start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL, reason_code INTEGER NOT NULL, operator TEXT NOT NULL,"
        " created_ns INTEGER NOT NULL, comment TEXT NOT NULL DEFAULT '');"
        "CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, ts_ns INTEGER NOT NULL, operator TEXT NOT NULL,"
        " action TEXT NOT NULL, equipment TEXT NOT NULL, before TEXT NOT NULL, after TEXT NOT NULL);"
    )
    db.executemany(
        "INSERT INTO reason_override (equipment, start_ns, end_ns, reason_code, operator, created_ns)"
        " VALUES ('mso-cpp-1', ?, ?, 20, 'alice', 1)",
        [(0, 10), (20, 30), (40, 50)],
    )
    db.commit()
    db.close()
    store = AnnotationStore(path)
    assert store.last_change_id() == 3
    started = store.start_order("mso-cpp-1", 100, 7001, 101, "alice")
    assert started.id == 4
    override = store.set_reason("mso-cpp-1", 60, 70, 21, "bob")
    assert override.id == 5, "an override after an order event takes the next id of the one sequence"
    gone = store.withdraw_order_event("mso-cpp-1", started.id, "bob")
    assert gone.withdrawn_id == 6 and store.last_change_id() == 6
    assert store.order_changes_after(3) == [(6, "mso-cpp-1", 100, 2**63 - 1)]
    assert [e.action for e in store.audit()] == ["withdraw_order_event", "set_reason", "start_order"]
    assert store.order_events(["mso-cpp-1"], 0, 1000) == []  # withdrawn: no longer in force
    store.close()
