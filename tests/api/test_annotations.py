"""The override rule (store/annotations.py) on small series checked by eye, and the audit's atomicity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shopfloor.models.samples import Series
from shopfloor.store.annotations import AnnotationStore, ReasonOverride, apply_reason_overrides


def series(points: list[tuple[int, float]]) -> Series:
    return Series(np.array([t for t, _ in points], dtype=np.int64), np.array([v for _, v in points]))


def override(start: int, end: int, code: int, ident: int = 1) -> ReasonOverride:
    return ReasonOverride(ident, "mso-cpp-1", start, end, code, "alice", 0, "")


def pairs(s: Series) -> list[tuple[int, float]]:
    return list(zip(s.ts_ns.tolist(), s.value.tolist(), strict=True))


def test_samples_inside_take_the_new_reason_and_the_old_one_resumes_after() -> None:
    s = series([(0, 0), (10, 21), (20, 21), (30, 21), (40, 0)])
    assert pairs(apply_reason_overrides(s, [override(10, 40, 20)])) == [(0, 0), (10, 20), (20, 20), (30, 20), (40, 0)]
    # bounds between samples: a sample is added at each, the density inside is kept
    assert pairs(apply_reason_overrides(s, [override(15, 35, 20)])) == [
        (0, 0),
        (10, 21),
        (15, 20),
        (20, 20),
        (30, 20),
        (35, 21),
        (40, 0),
    ]


def test_the_newest_override_wins_and_nothing_is_invented_outside_the_data() -> None:
    s = series([(100, 21), (110, 21), (120, 0)])
    out = apply_reason_overrides(s, [override(90, 130, 20, 1), override(100, 110, 30, 2)])
    assert pairs(out) == [(100, 30), (110, 20), (120, 20), (130, 0)]
    assert pairs(apply_reason_overrides(s, [override(90, 130, 20)], range_end_ns=125)) == [
        (100, 20),
        (110, 20),
        (120, 20),
    ]  # before the first sample and past the range: nothing added
    empty = series([])
    assert len(apply_reason_overrides(empty, [override(0, 10, 20)]).ts_ns) == 0


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
