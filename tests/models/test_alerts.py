"""Andon alerts, pure: the rules in the plant file, which conditions hold, and the raise/clear/ack book."""

from __future__ import annotations

import copy
import subprocess
import sys
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopfloor.models.alerts import (
    CHECKS,
    AlertBook,
    ClosedHour,
    Condition,
    EquipmentView,
    Evaluation,
    Transition,
    conditions,
)
from shopfloor.models.plant import ALERT_KINDS, AlertKind, Plant, PlantFileError, Severity, load_plant, plant_from_dict
from shopfloor.models.states import PrinterState, RobotState
from tests.models.test_plant_file import dumps_toml

S = 1_000_000_000
T0 = 1_800_000_000 * S


@pytest.fixture(scope="module")
def plant() -> Plant:
    return load_plant()


@pytest.fixture
def raw() -> dict[str, Any]:
    text = resources.files("shopfloor.models.plants").joinpath("mso_cpp_plant.toml").read_text(encoding="utf-8")
    return copy.deepcopy(tomllib.loads(text))


def error_of(raw: dict[str, Any], rule: dict[str, Any]) -> str:
    raw["alerts"]["rules"].append(rule)
    with pytest.raises(PlantFileError) as info:
        plant_from_dict(raw, Path("plant.toml"))
    assert "plant.toml" in str(info.value)
    return str(info.value)


def test_every_kind_has_its_spec_and_its_check() -> None:
    assert set(ALERT_KINDS) == set(CHECKS) == set(AlertKind)


def test_the_built_in_plant_ships_a_rule_of_every_kind(plant: Plant) -> None:
    assert {r.kind for r in plant.alerts.rules} == set(AlertKind)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"id": "x", "kind": "line_stopped"}, "needs stopped_longer_than_s"),
        ({"id": "x", "kind": "robot_fault", "charge_below_pct": 10}, "takes no threshold, not charge_below_pct"),
        (
            {"id": "x", "kind": "robot_charge_low", "charge_below_pct": 10, "stale_polls": 3},
            "takes charge_below_pct, not stale_polls",
        ),
        ({"id": "x", "kind": "robot_charge_low", "charge_below_pct": 120}, "charge_below_pct"),
        ({"id": "x", "kind": "hourly_attainment_low"}, "needs attainment_below_pct"),
        ({"id": "x", "kind": "hourly_attainment_low", "attainment_below_pct": 0}, "attainment_below_pct"),
        (
            {"id": "x", "kind": "line_stopped", "stopped_longer_than_s": 60, "attainment_below_pct": 80},
            "takes stopped_longer_than_s, not attainment_below_pct",
        ),
        (
            {"id": "x", "kind": "hourly_attainment_low", "attainment_below_pct": 80, "equipment": ["r01"]},
            "watches printer ids; ['r01'] are not",
        ),
        (
            {"id": "x", "kind": "robot_charge_low", "charge_below_pct": 25.0},
            "charge_below_pct 25 repeats low_charge_pct of ev-robots; leave it out",
        ),
        ({"id": "x", "kind": "robot_fault", "equipment": ["mso-cpp-1"]}, "watches robot ids; ['mso-cpp-1'] are not"),
        ({"id": "x", "kind": "stop_reason", "stop_reasons": ["coffee"]}, "stop reasons ['coffee'] are not keys"),
        ({"id": "line-stopped", "kind": "link_down"}, "alert rule ids must be unique, repeated: line-stopped"),
        ({"id": "x", "kind": "flood"}, "alerts.rules[7] (x).kind"),
        ({"id": "x", "kind": "link_down", "colour": "red"}, "alerts.rules[7] (x).colour: unknown key"),
    ],
)
def test_a_bad_rule_names_the_file_the_key_and_what_was_expected(
    raw: dict[str, Any], rule: dict[str, Any], expected: str
) -> None:
    assert expected in error_of(raw, rule)


def test_a_webhook_without_a_http_url_is_refused(raw: dict[str, Any]) -> None:
    raw["alerts"]["webhook"] = {"url": "ftp://x"}
    with pytest.raises(PlantFileError, match=r"alerts.webhook.url"):
        plant_from_dict(raw, "plant.toml")


def view(
    states: dict[str, tuple[int, int]] | None = None,
    values: dict[str, dict[str, float]] | None = None,
    newest: dict[str, int] | None = None,
    links: dict[str, bool] | None = None,
) -> EquipmentView:
    return EquipmentView(states or {}, values or {}, newest or {}, links or {})


def holding(plant: Plant, v: EquipmentView, now_ns: int = T0) -> dict[tuple[str, str], Condition]:
    return conditions(plant, v, now_ns).holding


def test_a_line_stopped_counts_from_the_state_start_and_planned_maintenance_does_not(plant: Plant) -> None:
    since = T0 - 600 * S
    stopped = view({"mso-cpp-1": (PrinterState.FAULT, since)}, {"mso-cpp-1": {"stop_reason": 0}})
    assert ("line-stopped", "mso-cpp-1") not in holding(plant, stopped, since + 600 * S)  # not longer than 600 s
    cond = holding(plant, stopped, since + 601 * S)[("line-stopped", "mso-cpp-1")]
    assert cond.since_ns == since and cond.severity is Severity.WARNING and "10 min" in cond.message
    planned = view({"mso-cpp-1": (PrinterState.MAINTENANCE, since)})
    assert ("line-stopped", "mso-cpp-1") in conditions(plant, planned, T0 + 3600 * S).known
    assert not holding(plant, planned, T0 + 3600 * S)


def test_a_stop_with_a_listed_reason_holds_only_while_the_line_is_not_running(plant: Plant) -> None:
    web_break = next(r.code for r in plant.stop_reasons if r.key == "web_break")
    other = next(r.code for r in plant.stop_reasons if r.key == "colour_change")
    key = ("line-breakdown", "mso-cpp-1")
    stopped = view({"mso-cpp-1": (PrinterState.FAULT, T0)}, {"mso-cpp-1": {"stop_reason": web_break}})
    assert holding(plant, stopped)[key].message_zh.endswith(plant.stop_reason(web_break).name_zh)  # type: ignore[union-attr]  # a code of the plant
    assert key not in holding(
        plant, view({"mso-cpp-1": (PrinterState.RUNNING, T0)}, {"mso-cpp-1": {"stop_reason": web_break}})
    )
    assert key not in holding(
        plant, view({"mso-cpp-1": (PrinterState.SETUP, T0)}, {"mso-cpp-1": {"stop_reason": other}})
    )


def test_robot_fault_error_code_and_low_charge(plant: Plant) -> None:
    v = view(
        {"r01": (RobotState.FAULT, T0), "r02": (RobotState.IDLE, T0), "r03": (RobotState.CHARGING, T0)},
        {"r01": {"soc_pct": 50}, "r02": {"error_code": 17, "soc_pct": 14.9}, "r03": {"error_code": 0, "soc_pct": 15}},
    )
    found = holding(plant, v)
    assert found[("robot-fault", "r01")].message == "r01 in fault"
    assert "17" in found[("robot-fault", "r02")].message
    assert ("robot-fault", "r03") not in found
    assert ("robot-charge-low", "r02") in found and ("robot-charge-low", "r03") not in found


def test_a_charge_rule_without_its_own_level_uses_its_fleets_low_charge_pct(raw: dict[str, Any]) -> None:
    """One home for the low-charge level: the fleet's low_charge_pct, which the display's band uses too."""
    raw["fleets"][0]["low_charge_pct"] = 30.0
    charge = next(r for r in raw["alerts"]["rules"] if r["kind"] == "robot_charge_low")
    del charge["charge_below_pct"]
    plant = plant_from_dict(raw, "plant.toml")
    assert plant.alerts.rules[3].charge_below_pct is None
    v = view(values={"r01": {"soc_pct": 29.9}, "r02": {"soc_pct": 30.0}})
    found = holding(plant, v)
    assert ("robot-charge-low", "r01") in found and ("robot-charge-low", "r02") not in found
    assert found[("robot-charge-low", "r01")].message == "r01 battery below 30 %"
    # a rule's own level (a lower andon level) still wins over the fleet's
    charge["charge_below_pct"] = 20.0
    own = plant_from_dict(raw, "plant.toml")
    assert ("robot-charge-low", "r01") not in holding(own, v)
    assert ("robot-charge-low", "r01") in holding(own, view(values={"r01": {"soc_pct": 19.0}}))


def test_a_charge_level_repeating_one_of_several_fleets_is_allowed(raw: dict[str, Any]) -> None:
    """Repeating every watched fleet's level is refused; matching one fleet of two is a real choice."""
    yard = copy.deepcopy(raw["fleets"][0])
    yard.update(id="ev-yard", low_charge_pct=30.0, robots=[yard["robots"][0] | {"id": "y01"}])
    raw["fleets"].append(yard)
    charge = next(r for r in raw["alerts"]["rules"] if r["kind"] == "robot_charge_low")
    charge["charge_below_pct"] = 25.0
    assert plant_from_dict(raw, "plant.toml").alerts.rules[3].charge_below_pct == 25.0
    charge["equipment"] = ["y01"]
    charge["charge_below_pct"] = 30.0
    with pytest.raises(PlantFileError, match="repeats low_charge_pct of ev-yard"):
        plant_from_dict(raw, "plant.toml")


def test_the_shipped_plant_files_keep_the_low_charge_level_in_one_place() -> None:
    shipped = resources.files("shopfloor.models.plants")
    for name in [f.name for f in shipped.iterdir() if f.name.endswith(".toml")]:
        raw = tomllib.loads(shipped.joinpath(name).read_text(encoding="utf-8"))
        levels = {f.get("low_charge_pct", 25.0) for f in raw.get("fleets", [])}
        own = {r["charge_below_pct"] for r in raw["alerts"]["rules"] if "charge_below_pct" in r}
        assert not own & levels, name


def hour(start_ns: int, target_m: float, actual_m: float | None, *, holds_until_ns: int | None = None) -> ClosedHour:
    pct = None if actual_m is None or target_m <= 0 else 100 * actual_m / target_m
    return ClosedHour(start_ns, start_ns + 3600 * S, target_m, actual_m, pct, holds_until_ns)


def test_hourly_attainment_holds_below_the_threshold_and_never_without_a_target(plant: Plant) -> None:
    key = ("hourly-attainment", "mso-cpp-1")
    end = T0 + 3600 * S

    def judged(h: ClosedHour, now_ns: int = end) -> Evaluation:
        return conditions(plant, EquipmentView({}, {}, {}, {}, {"mso-cpp-1": h}), now_ns)

    low = judged(hour(T0, 6000, 4500)).holding[key]  # 75 % < 80 %
    assert low.since_ns == end and "75 %" in low.message and "below 80 %" in low.message
    assert low.message.endswith("(below 80 %)") and "完成目标 75%" in low.message_zh
    at_threshold = judged(hour(T0, 6000, 4800))  # exactly 80 %: not below
    assert key in at_threshold.known and key not in at_threshold.holding
    no_target = judged(hour(T0, 0, 0.0))  # a planned break or no plan: never raises
    assert key in no_target.known and key not in no_target.holding
    no_data = judged(hour(T0, 6000, None))  # cannot tell: an alert raised before stays
    assert key not in no_data.known
    assert key not in conditions(plant, view(), end).known  # no hour closed yet
    # the last hour before a pause in the calendar: its miss stands an hour, then the shift is over
    last = hour(T0, 6000, 4500, holds_until_ns=end + 3600 * S)
    assert key in judged(last, end + 3600 * S - 1).holding
    over = judged(last, end + 3600 * S)
    assert key in over.known and key not in over.holding


def test_links_and_stale_printer_data(plant: Plant) -> None:
    poll_s = plant.printer("mso-cpp-1").modbus.poll_interval_s
    v = view(newest={"mso-cpp-1": T0}, links={"ev-robots": False, "mso-cpp-1": True})
    assert ("link-down", "ev-robots") in holding(plant, v)
    assert ("link-down", "mso-cpp-1") not in holding(plant, v)
    assert ("printer-data-stale", "mso-cpp-1") not in holding(plant, v, T0 + int(10 * poll_s * S))
    assert ("printer-data-stale", "mso-cpp-1") in holding(plant, v, T0 + int(10 * poll_s * S) + 1)


def test_stale_data_counts_polls_on_the_plant_clock(plant: Plant) -> None:
    """A time-scaled demo polls every poll_interval_s of wall time, 60 times longer on its clock at 60x: ten polls
    are 300 s of that clock there, and a sample a poll old is fresh."""
    poll_s = plant.printer("mso-cpp-1").modbus.poll_interval_s
    v = view(newest={"mso-cpp-1": T0})
    key = ("printer-data-stale", "mso-cpp-1")
    one_poll_ns = int(60 * poll_s * S)
    assert key not in conditions(plant, v, T0 + 3 * one_poll_ns, poll_scale=60).holding
    assert key in holding(plant, v, T0 + 3 * one_poll_ns)  # where a poll lasts poll_interval_s: 30 polls late
    late = conditions(plant, v, T0 + 10 * one_poll_ns + 1, poll_scale=60).holding
    assert late[key].message == f"no data from mso-cpp-1 for more than {10 * 60 * poll_s:g} s"


def test_what_the_data_cannot_tell_is_not_known(plant: Plant) -> None:
    evaluation = conditions(plant, view(), T0)
    assert not evaluation.holding and not evaluation.known


def cond(rule: str, e: str) -> Condition:
    return Condition(rule, e, Severity.CRITICAL, f"{rule} {e}", f"{rule} {e}", None)


def test_the_book_raises_once_clears_once_and_keeps_an_alert_the_data_cannot_judge() -> None:
    book = AlertBook()
    k = ("robot-fault", "r01")
    on = Evaluation({k: cond(*k)}, frozenset({k}))
    first = book.update(on, T0)
    assert [c.transition for c in first] == [Transition.RAISED]
    alert = first[0].alert
    assert alert.raised_ns == T0 and alert.id == f"robot-fault.r01.{T0}"
    assert book.update(on, T0 + S) == []  # still holding: nothing repeated
    assert book.update(Evaluation({}, frozenset()), T0 + 2 * S) == []  # unknown: stays active
    acked = book.acknowledge(alert.id, "alice", T0 + 3 * S)
    assert acked is not None and acked.alert.acknowledged_by == "alice"
    again = book.acknowledge(alert.id, "bob", T0 + 4 * S)
    assert again is not None and again.alert.acknowledged_by == "alice"  # the first acknowledgement stands
    cleared = book.update(Evaluation({}, frozenset({k})), T0 + 5 * S)
    assert [(c.transition, c.alert.cleared_ns, c.alert.acknowledged_by) for c in cleared] == [
        (Transition.CLEARED, T0 + 5 * S, "alice")
    ]
    assert book.active == [] and book.acknowledge(alert.id, "alice", T0) is None


def test_an_alert_of_a_rule_no_longer_in_the_plant_file_is_cleared() -> None:
    k = ("old-rule", "r01")
    book = AlertBook()
    book.update(Evaluation({k: cond(*k)}, frozenset({k})), T0)
    changes = book.update(Evaluation({}, frozenset()), T0 + S, rules=["robot-fault"])
    assert [(c.transition, c.alert.rule) for c in changes] == [(Transition.CLEARED, "old-rule")]


KEYS = [("a", "x"), ("a", "y"), ("b", "x")]
steps = st.lists(st.tuples(st.sets(st.sampled_from(KEYS)), st.sets(st.sampled_from(KEYS))), min_size=1, max_size=30)


@settings(max_examples=300, deadline=None)
@given(steps)
def test_the_book_against_a_plain_reference(sequence: list[tuple[set[tuple[str, str]], set[tuple[str, str]]]]) -> None:
    """Each step: which pairs hold, and which others the data showed not to hold (the rest unknown)."""
    book = AlertBook()
    active: set[tuple[str, str]] = set()
    events: dict[tuple[str, str], list[Transition]] = {k: [] for k in KEYS}
    for i, (holds, judged) in enumerate(sequence):
        evaluation = Evaluation({k: cond(*k) for k in holds}, frozenset(holds | judged))
        for change in book.update(evaluation, T0 + i * S):
            events[change.alert.key].append(change.transition)
        # the reference: active if it holds now, or was active and nothing showed it is over
        active = holds | {k for k in active if k not in judged or k in holds}
        assert {a.key for a in book.active} == active
    for k, seen in events.items():
        assert seen == [Transition.RAISED, Transition.CLEARED] * (len(seen) // 2) + [Transition.RAISED] * (
            len(seen) % 2
        )
        assert (len(seen) % 2 == 1) == (k in active)


def test_check_plant_lists_the_rules_and_the_webhook_without_its_secrets(raw: dict[str, Any], tmp_path: Path) -> None:
    raw["alerts"]["webhook"] = {"url": "http://andon:pw-secret@gw.plant.local:9000/hook?key=sekrit"}
    path = tmp_path / "plant.toml"
    path.write_text(dumps_toml(raw), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "shopfloor.cli.main", "check-plant", "--plant", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "robot-fault (robot_fault, critical)" in result.stdout
    assert "alert webhook: http://gw.plant.local:9000/hook" in result.stdout
    assert "secret" not in result.stdout and "sekrit" not in result.stdout
