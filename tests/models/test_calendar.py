"""Shift calendar: time zones, the night shift across midnight, crew rotation."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from shopfloor.models.calendar import assign_instances, from_ns, in_planned_break, shift_at, shift_instances, to_ns
from shopfloor.models.plant import Plant, load_plant

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def plant() -> Plant:
    return load_plant()


def local_ns(*args: int) -> int:
    return to_ns(dt.datetime(*args, tzinfo=SHANGHAI))


def test_to_ns_is_exact() -> None:
    moment = dt.datetime(2026, 11, 24, 6, 0, 0, 123456, tzinfo=dt.UTC)
    import calendar

    assert to_ns(moment) == calendar.timegm(moment.utctimetuple()) * 1_000_000_000 + 123_456_000
    assert from_ns(to_ns(moment)) == moment
    with pytest.raises(ValueError, match="naive"):
        to_ns(dt.datetime(2026, 1, 1))


def test_night_shift_crosses_midnight_and_belongs_to_its_start_date(plant: Plant) -> None:
    at_1am = local_ns(2026, 11, 25, 1, 0)
    instance = shift_at(plant.shift_calendar, plant.tz, at_1am)
    assert instance is not None
    assert instance.shift_id == "night"
    assert instance.production_date == dt.date(2026, 11, 24)
    assert instance.start_ns == local_ns(2026, 11, 24, 22, 0)
    assert instance.end_ns == local_ns(2026, 11, 25, 6, 0)
    assert instance.key == "2026-11-24/night"
    # 22:00 Shanghai is 14:00 UTC.
    assert from_ns(instance.start_ns).hour == 14


def test_a_day_has_three_shifts_covering_24_hours_with_breaks(plant: Plant) -> None:
    start, end = local_ns(2026, 11, 24, 6, 0), local_ns(2026, 11, 25, 6, 0)
    instances = [i for i in shift_instances(plant.shift_calendar, plant.tz, start, end) if i.start_ns >= start]
    assert [i.shift_id for i in instances] == ["early", "late", "night"]
    assert sum(i.duration_s for i in instances) == 24 * 3600
    assert all(i.planned_break_s == 30 * 60 for i in instances)
    night_break = instances[2].breaks_ns[0]
    assert night_break == (local_ns(2026, 11, 25, 2, 0), local_ns(2026, 11, 25, 2, 30))


def test_crews_rotate_weekly_from_the_anchor(plant: Plant) -> None:
    calendar = plant.shift_calendar
    anchor = calendar.rotation_anchor

    def crew(date: dt.date, shift: str) -> str | None:
        ns = to_ns(dt.datetime.combine(date, dt.time(12 if shift == "early" else 23), tzinfo=SHANGHAI))
        inst = shift_at(calendar, plant.tz, ns)
        assert inst is not None and inst.shift_id == shift
        return inst.crew

    assert crew(anchor, "early") == "crew-a"
    assert crew(anchor + dt.timedelta(days=6), "early") == "crew-a"
    assert crew(anchor + dt.timedelta(days=7), "early") == "crew-b"
    assert crew(anchor + dt.timedelta(days=21), "early") == "crew-a"
    assert crew(anchor, "night") == "crew-c"
    # Before the anchor the rotation runs backwards consistently.
    assert crew(anchor - dt.timedelta(days=1), "early") == "crew-c"


def test_vectorized_assignment_matches_shift_at(plant: Plant) -> None:
    start, end = local_ns(2026, 11, 23, 0, 0), local_ns(2026, 11, 26, 0, 0)
    instances = shift_instances(plant.shift_calendar, plant.tz, start, end)
    rng = np.random.default_rng(7)
    ts = np.sort(rng.integers(start, end, size=2000, dtype=np.int64))
    index = assign_instances(instances, ts)
    for t, i in zip(ts.tolist(), index.tolist(), strict=True):
        expected = shift_at(plant.shift_calendar, plant.tz, t)
        assert expected is not None and instances[i] == expected
    breaks = in_planned_break(instances, ts)
    for t, b in zip(ts.tolist(), breaks.tolist(), strict=True):
        inst = shift_at(plant.shift_calendar, plant.tz, t)
        assert b == any(s <= t < e for s, e in inst.breaks_ns)


def test_gap_between_shifts_is_unassigned() -> None:
    import tomllib
    from importlib import resources

    from shopfloor.models.plant import plant_from_dict

    raw = tomllib.loads(resources.files("shopfloor.models.plants").joinpath("mso_cpp_plant.toml").read_text("utf-8"))
    raw["shift_calendar"]["shifts"] = raw["shift_calendar"]["shifts"][:2]  # no night shift
    plant = plant_from_dict(raw)
    at_midnight = local_ns(2026, 11, 25, 0, 0)
    assert shift_at(plant.shift_calendar, plant.tz, at_midnight) is None
    instances = shift_instances(plant.shift_calendar, plant.tz, at_midnight - 10**13, at_midnight + 10**13)
    assert assign_instances(instances, np.array([at_midnight], dtype=np.int64)).tolist() == [-1]


def test_dst_zone_gives_a_shorter_night_shift() -> None:
    """In a zone with summer time the night of the spring change is an hour short."""
    import tomllib
    from importlib import resources

    from shopfloor.models.plant import plant_from_dict

    raw = tomllib.loads(resources.files("shopfloor.models.plants").joinpath("mso_cpp_plant.toml").read_text("utf-8"))
    raw["plant"]["timezone"] = "Europe/Berlin"
    plant = plant_from_dict(raw)
    berlin = ZoneInfo("Europe/Berlin")
    at = to_ns(dt.datetime(2026, 3, 29, 1, 0, tzinfo=berlin))  # clocks go 02:00 -> 03:00
    night = shift_at(plant.shift_calendar, plant.tz, at)
    assert night is not None and night.shift_id == "night"
    assert night.duration_s == 7 * 3600
