"""Both backends: a read in context returns the range plus each field's neighbours (docs/kpi.md, "Context")."""

from __future__ import annotations

import numpy as np
import pytest

from shopfloor.models.samples import SampleBatch
from shopfloor.models.timebase import NS_PER_DAY
from tests.store._batches import T0, S, as_dict, good, reference_series
from tests.store.conftest import StoreFactory

H = 3_600 * S


def expected_in_context(
    batches: list[SampleBatch], equipment: str, field: str, start_ns: int, end_ns: int, lookahead_ns: int = 0
) -> dict[int, float]:
    """The rule by hand: every kept sample of the field, cut to the range, the last before and the first after."""
    everything = reference_series(batches, -(2**62), 2**62).get((equipment, field), {})
    times = sorted(everything)
    inside = [t for t in times if start_ns <= t < end_ns + lookahead_ns]
    before = [t for t in times if t < start_ns][-1:]
    after = [t for t in times if t >= end_ns + lookahead_ns][:1]
    return {t: everything[t] for t in before + inside + after}


def test_neighbours_of_any_age_and_none_where_there_are_none(open_test_store: StoreFactory) -> None:
    store = open_test_store()
    start, end = T0 + 10 * NS_PER_DAY, T0 + 10 * NS_PER_DAY + 8 * H
    batches = [
        # polled: neighbours a second away, a reading exactly at the end (it closes the range)
        good("printer", [(start + k * S - 2 * S, "mso-cpp-1", "printed_m_total", float(k)) for k in range(5)]),
        good("printer", [(end + k * S - 2 * S, "mso-cpp-1", "printed_m_total", 100.0 + k) for k in range(5)]),
        # silent for 40 days before the range and 3 days after it: the widest windows find them
        good("printer", [(start - 40 * NS_PER_DAY, "mso-cpp-1", "state", 2.0)]),
        good("printer", [(start + 5 * S, "mso-cpp-1", "state", 1.0)]),
        good("printer", [(end + 3 * NS_PER_DAY, "mso-cpp-1", "state", 3.0)]),
        # two writes of one timestamp before the range: the later one wins, as in every read
        good("printer", [(start - 2 * H, "mso-cpp-1", "water_l_total", 5.0)]),
        good("printer", [(start - 2 * H, "mso-cpp-1", "water_l_total", 6.0)]),
        # only inside the range: no neighbours, and another equipment's samples stay out
        good("printer", [(start + H, "mso-cpp-1", "energy_kwh_total", 1.5)]),
        good("printer", [(start - S, "mso-cpp-2", "printed_m_total", 9.0)]),
    ]
    for b in batches:
        store.write(b)
    assert store.flush(timeout_s=60)
    fields = ["printed_m_total", "state", "water_l_total", "energy_kwh_total", "ink_consumed_kg_total"]
    got = store.read_series_in_context("printer", ["mso-cpp-1"], fields, start, end)
    for field in fields:
        assert as_dict(got["mso-cpp-1"][field]) == expected_in_context(batches, "mso-cpp-1", field, start, end), field
    assert as_dict(got["mso-cpp-1"]["water_l_total"]) == {start - 2 * H: 6.0}
    assert as_dict(got["mso-cpp-1"]["state"]) == {
        start - 40 * NS_PER_DAY: 2.0,
        start + 5 * S: 1.0,
        end + 3 * NS_PER_DAY: 3.0,
    }
    assert end in as_dict(got["mso-cpp-1"]["printed_m_total"]), "the reading at the end closes the range"


def test_lookahead_reads_past_the_end_for_that_field_only(open_test_store: StoreFactory) -> None:
    store = open_test_store()
    start, end, ahead = T0, T0 + 8 * H, H
    rows = [
        (start + k * 600 * S, "robot-01", f, float(k))
        for k in range(-2, 70)
        for f in ("state", "energy_delivered_kwh_total")
    ]
    batches = [good("robot", rows, fleet="fleet-a")]
    store.write(batches[0])
    assert store.flush(timeout_s=60)
    got = store.read_series_in_context(
        "robot", ["robot-01"], ["state", "energy_delivered_kwh_total"], start, end, {"state": ahead}
    )
    assert as_dict(got["robot-01"]["state"]) == expected_in_context(batches, "robot-01", "state", start, end, ahead)
    assert as_dict(got["robot-01"]["energy_delivered_kwh_total"]) == expected_in_context(
        batches, "robot-01", "energy_delivered_kwh_total", start, end
    )
    assert max(got["robot-01"]["state"].ts_ns) == end + ahead
    assert max(got["robot-01"]["energy_delivered_kwh_total"].ts_ns) == end


def test_random_series_match_the_rule(open_test_store: StoreFactory) -> None:
    store = open_test_store()
    rng = np.random.default_rng(11)
    batches = []
    for equipment in ("mso-cpp-1", "mso-cpp-2"):
        for field in ("printed_m_total", "state"):
            ts = np.unique(T0 + rng.integers(0, 6 * NS_PER_DAY // S, 300) * S)
            batches.append(
                good(
                    "printer",
                    [(int(t), equipment, field, float(v)) for t, v in zip(ts, rng.random(len(ts)), strict=True)],
                )
            )
    for b in batches:
        store.write(b)
    assert store.flush(timeout_s=60)
    for _ in range(10):
        a, b = sorted(T0 + rng.integers(0, 7 * NS_PER_DAY // S, 2) * S)
        if a == b:
            continue
        got = store.read_series_in_context("printer", ["mso-cpp-1", "mso-cpp-2"], ["printed_m_total", "state"], a, b)
        for equipment, by_field in got.items():
            for field, series in by_field.items():
                assert as_dict(series) == expected_in_context(batches, equipment, field, int(a), int(b))


def test_bad_arguments_are_refused(open_test_store: StoreFactory) -> None:
    store = open_test_store()
    with pytest.raises(ValueError, match="lookahead_ns"):
        store.read_series_in_context("printer", ["mso-cpp-1"], ["state"], T0, T0 + S, {"state": -1})
    with pytest.raises(ValueError, match="after end_ns"):
        store.read_series_in_context("printer", ["mso-cpp-1"], ["state"], T0 + S, T0)
    empty = store.read_series_in_context("printer", ["mso-cpp-1"], ["state"], T0, T0)
    assert len(empty["mso-cpp-1"]["state"].ts_ns) == 0
