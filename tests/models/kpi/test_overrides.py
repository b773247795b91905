"""The stop-reason override rule (models/kpi/overrides.py) on small series checked by eye."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shopfloor.models.kpi.overrides import apply_reason_overrides
from shopfloor.models.samples import Series


def series(points: list[tuple[int, float]]) -> Series:
    return Series(np.array([t for t, _ in points], dtype=np.int64), np.array([v for _, v in points]))


@dataclass(frozen=True, slots=True)
class Override:
    start_ns: int
    end_ns: int
    reason_code: int


def override(start: int, end: int, code: int) -> Override:
    return Override(start, end, code)


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
    out = apply_reason_overrides(s, [override(90, 130, 20), override(100, 110, 30)])
    assert pairs(out) == [(100, 30), (110, 20), (120, 20), (130, 0)]
    assert pairs(apply_reason_overrides(s, [override(90, 130, 20)], range_end_ns=125)) == [
        (100, 20),
        (110, 20),
        (120, 20),
    ]  # before the first sample and past the range: nothing added
    empty = series([])
    assert len(apply_reason_overrides(empty, [override(0, 10, 20)]).ts_ns) == 0
