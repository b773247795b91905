"""A batch that breaks the data contract is refused whole, logged with the reason and set aside — never dropped.

Both backends, opened by ``open_store`` from the default plant: it declares the
fields a store of this plant accepts, so a field the plant file does not name
(a collector with a stale map, a typo) is a contract breach like a bad id.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from shopfloor.models.samples import SampleBatch
from shopfloor.models.states import Quality
from shopfloor.store.duckdb_store import DuckDBStore
from shopfloor.store.influx import InfluxStore
from tests.store._batches import T0, S, as_dict, batch, good
from tests.store.conftest import StoreFactory


def dead_letter_path(store: object) -> Path:
    if isinstance(store, DuckDBStore):
        return store.path.with_name(store.path.name + ".dead-letter.jsonl")
    assert isinstance(store, InfluxStore)
    return store.spool.directory / "dead-letter.jsonl"


def test_unknown_field_is_refused_logged_once_and_set_aside_with_its_rows(
    open_test_store: StoreFactory, caplog: pytest.LogCaptureFixture
) -> None:
    store = open_test_store()
    caplog.set_level(logging.ERROR, logger="store")

    def stale(k: int) -> SampleBatch:  # one poll of a printer whose map has a signal the plant file lacks
        return batch(
            "printer",
            [
                (T0 + k * S, "mso-cpp-1", "speed_m_min", 12.5, Quality.GOOD, ""),
                (T0 + k * S, "mso-cpp-1", "ink_viscosity_s", 21.0, Quality.GOOD, ""),
                (T0 + k * S, "mso-cpp-1", "state", None, Quality.BAD_DECODE, "short response"),
            ],
        )

    for k in range(3):  # the same breach on three polls in a row
        with pytest.raises(ValueError, match=r"ink_viscosity_s.*not declared for 'printer'") as refused:
            store.write(stale(k))
        assert str(dead_letter_path(store)) in str(refused.value)  # the caller is told where it went
    # the store goes on: a good batch after the refused ones is stored
    store.write(good("printer", [(T0 + 5 * S, "mso-cpp-1", "speed_m_min", 40.0)]))
    assert store.flush(timeout_s=60)
    got = store.read_series("printer", ["mso-cpp-1"], None, T0 - S, T0 + 10 * S)
    assert {f: as_dict(s) for f, s in got["mso-cpp-1"].items()} == {"speed_m_min": {T0 + 5 * S: 40.0}}
    # set aside, whole, with the reason: nothing of a refused batch is silently dropped
    entries = [e for e in store.refused.dead_letters.entries() if "rows" in e]
    assert len(entries) == 3 and store.refused.count == 3
    assert all("ink_viscosity_s" in e["reason"] and e["measurement"] == "printer" for e in entries)
    assert entries[1]["rows"] == [
        [T0 + S, "mso-cpp-1", "speed_m_min", 12.5, 0, ""],
        [T0 + S, "mso-cpp-1", "ink_viscosity_s", 21.0, 0, ""],
        [T0 + S, "mso-cpp-1", "state", "nan", int(Quality.BAD_DECODE), "short response"],
    ]
    # logged with the reason, once for the three batches (a stale map would otherwise log every poll)
    lines = [r.getMessage() for r in caplog.records if "refused a printer batch" in r.getMessage()]
    assert len(lines) == 1 and "ink_viscosity_s" in lines[0] and str(dead_letter_path(store)) in lines[0], lines


def test_each_distinct_reason_is_logged(open_test_store: StoreFactory, caplog: pytest.LogCaptureFixture) -> None:
    store = open_test_store()
    caplog.set_level(logging.ERROR, logger="store")
    for field in ("a_field", "b_field", "a_field"):
        with pytest.raises(ValueError, match=field):
            store.write(good("printer", [(T0, "mso-cpp-1", field, 1.0)]))
    with pytest.raises(ValueError, match="equipment 'MSO CPP'"):
        store.write(good("printer", [(T0, "MSO CPP", "state", 1.0)]))
    lines = [r.getMessage() for r in caplog.records if "refused a printer batch" in r.getMessage()]
    assert len(lines) == 3, lines
    assert [e["rows"][0][1:3] for e in store.refused.dead_letters.entries() if "rows" in e] == [
        ["mso-cpp-1", "a_field"],
        ["mso-cpp-1", "b_field"],
        ["mso-cpp-1", "a_field"],
        ["MSO CPP", "state"],
    ]


def test_robot_fields_are_checked_against_the_fleets_variables(open_test_store: StoreFactory) -> None:
    store = open_test_store()
    store.write(good("robot", [(T0, "r01", "soc_pct", 50.0)], fleet="ev-robots"))
    with pytest.raises(ValueError, match=r"\['speed_m_min'\] not declared for 'robot'"):
        store.write(good("robot", [(T0, "r01", "speed_m_min", 1.0)], fleet="ev-robots"))
    assert store.flush(timeout_s=60)
    assert as_dict(store.read_series("robot", ["r01"], ["soc_pct"], T0, T0 + S)["r01"]["soc_pct"]) == {T0: 50.0}
    assert [e["fleet"] for e in store.refused.dead_letters.entries() if "rows" in e] == ["ev-robots"]


def test_a_store_opened_without_a_plant_accepts_any_well_formed_field(tmp_path: Path) -> None:
    """Direct construction (benchmarks, tools) has no plant to check against: names are checked, not membership."""
    store = DuckDBStore(tmp_path / "x.duckdb", "shanghai-1")
    try:
        store.write(good("printer", [(T0, "mso-cpp-1", "any_field", 1.0)]))
        assert as_dict(
            store.read_series("printer", ["mso-cpp-1"], ["any_field"], T0, T0 + S)["mso-cpp-1"]["any_field"]
        ) == {T0: 1.0}
        assert store.refused.count == 0
    finally:
        store.close()
