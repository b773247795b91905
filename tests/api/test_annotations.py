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
