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
