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

from shopfloor.models.alerts import CHECKS, AlertBook, Condition, EquipmentView, Evaluation, Transition, conditions
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


def test_the_built_in_plant_ships_a_rule_of_every_kind_but_none_of_the_missing_attainment(plant: Plant) -> None:
    kinds = {r.kind.value for r in plant.alerts.rules}
    assert kinds == {"line_stopped", "stop_reason", "robot_fault", "robot_charge_low", "link_down", "data_stale"}


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
        ({"id": "x", "kind": "robot_fault", "equipment": ["mso-cpp-1"]}, "watches robot ids; ['mso-cpp-1'] are not"),
        ({"id": "x", "kind": "stop_reason", "stop_reasons": ["coffee"]}, "stop reasons ['coffee'] are not keys"),
        ({"id": "line-stopped", "kind": "link_down"}, "alert rule ids must be unique, repeated: line-stopped"),
        ({"id": "x", "kind": "flood"}, "alerts.rules[6] (x).kind"),
        ({"id": "x", "kind": "link_down", "colour": "red"}, "alerts.rules[6] (x).colour: unknown key"),
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


def test_links_and_stale_printer_data(plant: Plant) -> None:
    poll_s = plant.printer("mso-cpp-1").modbus.poll_interval_s
    v = view(newest={"mso-cpp-1": T0}, links={"ev-robots": False, "mso-cpp-1": True})
    assert ("link-down", "ev-robots") in holding(plant, v)
    assert ("link-down", "mso-cpp-1") not in holding(plant, v)
    assert ("printer-data-stale", "mso-cpp-1") not in holding(plant, v, T0 + int(10 * poll_s * S))
    assert ("printer-data-stale", "mso-cpp-1") in holding(plant, v, T0 + int(10 * poll_s * S) + 1)


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
