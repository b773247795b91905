"""One suite, both backends: what every SampleStore promises (store/base.py)."""

from __future__ import annotations

import numpy as np
import pytest

from shopfloor.models.samples import ConnectivityEvent, SampleBatch
from shopfloor.models.states import Quality
from shopfloor.store import StoreError
from shopfloor.store.prepare import NON_FINITE_DETAIL
from tests.store._batches import T0, S, as_dict, batch, good, poll_batch, reference_series
from tests.store.conftest import StoreFactory

FIELDS = ["state", "speed_m_min", "printed_m_total", "dryer_1_temp_c"]


def test_write_then_read_back_exactly(open_test_store: StoreFactory) -> None:
    store = open_test_store()
    rng = np.random.default_rng(7)
    batches = []
    # two printers, polls arriving slightly out of order (a late collector batch)
    for i in [0, 1, 2, 4, 3, 5, 6, 7, 8, 9]:
        for equipment in ("mso-cpp-1", "mso-cpp-2"):
            batches.append(poll_batch(T0 + i * S, equipment, FIELDS, rng))
    batches.append(good("printer", [(T0 + 2 * S, "mso-cpp-1", "speed_m_min", 0.1 + 0.2)]))  # overwrite: last wins
    for b in batches:
        store.write(b)
    assert store.flush(timeout_s=60)
    start, end = T0 + 1 * S, T0 + 9 * S
    got = store.read_series("printer", ["mso-cpp-1", "mso-cpp-2"], FIELDS, start, end)
    expected = reference_series(batches, start, end)
    assert set(got) == {"mso-cpp-1", "mso-cpp-2"}
    for equipment, by_field in got.items():
        assert set(by_field) == set(FIELDS)
        for field, series in by_field.items():
            assert series.ts_ns.dtype == np.int64 and series.value.dtype == np.float64
            assert np.all(np.diff(series.ts_ns) > 0), "sorted by time, one value per timestamp"
            assert as_dict(series) == expected[(equipment, field)]  # exact: floats round-trip bit for bit
    assert as_dict(got["mso-cpp-1"]["speed_m_min"])[T0 + 2 * S] == 0.1 + 0.2


def test_half_open_range_and_missing_data(open_test_store: StoreFactory) -> None:
    store = open_test_store()
    store.write(good("printer", [(T0 + k * S, "mso-cpp-1", "speed_m_min", float(k)) for k in range(5)]))
    store.flush(timeout_s=60)
    got = store.read_series(
        "printer", ["mso-cpp-1", "mso-cpp-9"], ["speed_m_min", "water_l_total"], T0 + 1 * S, T0 + 3 * S
    )
    assert got["mso-cpp-1"]["speed_m_min"].ts_ns.tolist() == [T0 + 1 * S, T0 + 2 * S]  # start in, end out
    assert len(got["mso-cpp-1"]["water_l_total"].ts_ns) == 0
    assert all(len(s.ts_ns) == 0 for s in got["mso-cpp-9"].values())
    empty = store.read_series("printer", ["mso-cpp-1"], ["speed_m_min"], T0 + 2 * S, T0 + 2 * S)
    assert len(empty["mso-cpp-1"]["speed_m_min"].ts_ns) == 0
    all_fields = store.read_series("printer", ["mso-cpp-1"], None, T0, T0 + 10 * S)
    assert set(all_fields["mso-cpp-1"]) == {"speed_m_min"}
    with pytest.raises(ValueError, match="after end_ns"):
        store.read_series("printer", ["mso-cpp-1"], None, T0 + 1, T0)


def test_bad_quality_is_never_a_value(open_test_store: StoreFactory) -> None:
    store = open_test_store()
    store.write(
        batch(
            "printer",
            [
                (T0, "mso-cpp-1", "speed_m_min", 80.0, Quality.GOOD, ""),
                (T0 + S, "mso-cpp-1", "speed_m_min", None, Quality.BAD_NO_COMMUNICATION, "timeout after 1.0 s"),
                (T0 + S, "mso-cpp-1", "state", None, Quality.BAD_DEVICE_EXCEPTION, 'exception 2, "illegal address"'),
                (T0 + 2 * S, "mso-cpp-1", "speed_m_min", float("inf"), Quality.GOOD, ""),  # garbage marked good
                (T0 + 3 * S, "mso-cpp-1", "speed_m_min", 81.5, Quality.GOOD, ""),
            ],
        )
    )
    store.flush(timeout_s=60)
    series = store.read_series("printer", ["mso-cpp-1"], ["speed_m_min", "state"], T0, T0 + 10 * S)
    assert as_dict(series["mso-cpp-1"]["speed_m_min"]) == {T0: 80.0, T0 + 3 * S: 81.5}
    assert len(series["mso-cpp-1"]["state"].ts_ns) == 0
    q = store.read_quality(["mso-cpp-1"], T0, T0 + 10 * S)
    assert list(zip(q.ts_ns.tolist(), q.field.tolist(), q.code.tolist(), q.detail.tolist(), strict=True)) == [
        (T0 + S, "speed_m_min", Quality.BAD_NO_COMMUNICATION, "timeout after 1.0 s"),
        (T0 + S, "state", Quality.BAD_DEVICE_EXCEPTION, 'exception 2, "illegal address"'),
        (T0 + 2 * S, "speed_m_min", Quality.BAD_DECODE, NON_FINITE_DETAIL),
    ]
    only_state = store.read_quality(["mso-cpp-1"], T0, T0 + 10 * S, fields=["state"])
    assert only_state.field.tolist() == ["state"]
    latest = store.latest("printer", ["mso-cpp-1"])
    assert latest["mso-cpp-1"] == {"speed_m_min": (T0 + 3 * S, 81.5)}


def test_robots_are_their_own_measurement(open_test_store: StoreFactory) -> None:
    store = open_test_store()
    store.write(good("robot", [(T0, "r01", "soc_pct", 55.0), (T0, "r01", "state", 4.0)], fleet="ev-robots"))
    store.write(good("printer", [(T0, "mso-cpp-1", "state", 3.0)]))
    store.flush(timeout_s=60)
    robots = store.read_series("robot", ["r01", "mso-cpp-1"], None, T0, T0 + S)
    assert {f: as_dict(s) for f, s in robots["r01"].items()} == {"soc_pct": {T0: 55.0}, "state": {T0: 4.0}}
    assert robots["mso-cpp-1"] == {}
    assert store.latest("robot", ["r01", "r02"]) == {"r01": {"soc_pct": (T0, 55.0), "state": (T0, 4.0)}, "r02": {}}


def test_connectivity_round_trip(open_test_store: StoreFactory) -> None:
    store = open_test_store()
    events = [
        ConnectivityEvent(T0 + 2 * S, "mso-cpp-1", "modbus:mso-cpp-1", False, "connection refused"),
        ConnectivityEvent(T0, "mso-cpp-1", "modbus:mso-cpp-1", True, ""),
        ConnectivityEvent(T0 + 5 * S, "ev-robots", "opcua:ev-robots", True, 'session, "secure" = no'),
        ConnectivityEvent(T0 + 9 * S, "mso-cpp-1", "modbus:mso-cpp-1", True, "back"),
    ]
    store.write_connectivity(events)
    store.flush(timeout_s=60)
    got = store.read_connectivity(["mso-cpp-1", "ev-robots"], T0, T0 + 9 * S)
    assert got == sorted(events[:3], key=lambda e: e.ts_ns)
    assert store.read_connectivity(["ev-robots"], T0, T0 + 10 * S) == [events[2]]


def test_latest_keeps_the_newest_whatever_the_order(open_test_store: StoreFactory) -> None:
    store = open_test_store()
    store.write(
        good(
            "printer",
            [
                (T0 + 5 * S, "mso-cpp-1", "speed_m_min", 50.0),
                (T0 + 4 * S, "mso-cpp-1", "speed_m_min", 40.0),
                (T0 + 1 * S, "mso-cpp-1", "state", 3.0),
            ],
        )
    )
    store.write(good("printer", [(T0 + 2 * S, "mso-cpp-1", "speed_m_min", 20.0)]))  # late batch
    assert store.latest("printer", ["mso-cpp-1"])["mso-cpp-1"] == {
        "speed_m_min": (T0 + 5 * S, 50.0),
        "state": (T0 + S, 3.0),
    }


def test_reopen_after_close_keeps_everything(open_test_store: StoreFactory) -> None:
    store = open_test_store()
    rows = [(T0 + k * S, "mso-cpp-1", "printed_m_total", 1000.0 + k) for k in range(50)]
    store.write(good("printer", rows))
    store.write_connectivity([ConnectivityEvent(T0, "mso-cpp-1", "modbus:mso-cpp-1", True)])
    store.close()  # no flush: close must not lose what was written
    reopened = open_test_store()
    got = reopened.read_series("printer", ["mso-cpp-1"], ["printed_m_total"], T0, T0 + 100 * S)
    assert as_dict(got["mso-cpp-1"]["printed_m_total"]) == {t: v for t, _, _, v in rows}
    assert len(reopened.read_connectivity(["mso-cpp-1"], T0, T0 + S)) == 1
    # latest() after a restart comes from what is stored
    assert reopened.latest("printer", ["mso-cpp-1"])["mso-cpp-1"] == {"printed_m_total": (T0 + 49 * S, 1049.0)}


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: good("pressure", [(T0, "mso-cpp-1", "x", 1.0)]), "measurement must be one of"),
        (lambda: good("robot", [(T0, "r01", "soc_pct", 1.0)]), "fleet"),
        (lambda: good("printer", [(T0, "mso-cpp-1", "soc_pct", 1.0)], fleet="ev-robots"), "no fleet"),
        (lambda: good("printer", [(T0, "MSO CPP", "speed_m_min", 1.0)]), "equipment 'MSO CPP'"),
        (lambda: good("printer", [(T0, "mso-cpp-1", "speed m/min", 1.0)]), "field 'speed m/min'"),
        (
            lambda: SampleBatch(
                "printer",
                np.array([1.5]),
                np.array(["mso-cpp-1"], dtype=object),
                np.array(["state"], dtype=object),
                np.array([1.0]),
                np.zeros(1, np.uint8),
                np.array([""], dtype=object),
            ),
            "integer epoch",
        ),
    ],
)
def test_bad_input_is_refused_whole(open_test_store: StoreFactory, make, message: str) -> None:  # type: ignore[no-untyped-def]  # make: a parametrised batch builder
    store = open_test_store()
    with pytest.raises(ValueError, match=message):
        store.write(make())
    store.write(good("printer", [(T0, "mso-cpp-1", "state", 3.0)]))
    store.flush(timeout_s=60)
    got = store.read_series("printer", ["mso-cpp-1"], None, T0 - 10 * S, T0 + 10 * S)
    assert {f: as_dict(s) for f, s in got["mso-cpp-1"].items()} == {"state": {T0: 3.0}}


def test_closed_store_refuses_writes(open_test_store: StoreFactory) -> None:
    store = open_test_store()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.write(good("printer", [(T0, "mso-cpp-1", "state", 3.0)]))
