"""Andon alerts, pure: which rule conditions hold now, and the raise / clear / acknowledge book.

``conditions(plant, view, now_ns)`` reads the latest state of every
equipment (``EquipmentView``: what the live hub holds) and returns, for each
(rule, equipment) pair, whether the condition holds, or nothing when the data
cannot tell (no sample yet, no link reported yet). Unknown is not false: an
alert raised before a restart stays active until data shows it is over.

``AlertBook`` turns successive evaluations into events: an alert is raised
once when its condition starts to hold, and cleared once when it stops;
while it holds, nothing is repeated (deduplication). An acknowledgement marks
the active alert; it does not clear it. No I/O here: the API's alert service
stores the events and sends them on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

from shopfloor.models.plant import AlertKind, AlertRule, Plant, Severity
from shopfloor.models.states import PrinterState, RobotState
from shopfloor.models.timebase import NS_PER_S

# A line "stopped" for line_stopped: not running, and not on purpose (planned maintenance, switched off).
NOT_STOPPED = frozenset({PrinterState.RUNNING, PrinterState.MAINTENANCE, PrinterState.OFFLINE})
STOPPED_FOR_REASON = frozenset(PrinterState) - {PrinterState.RUNNING}

AlertKey = tuple[str, str]  # (rule id, equipment id)


@dataclass(frozen=True, slots=True)
class EquipmentView:
    """The latest known facts of the plant's equipment (from the live hub)."""

    states: Mapping[str, tuple[int, int]]  # equipment -> (state code, since_ns)
    values: Mapping[str, Mapping[str, float]]  # equipment -> field -> newest value
    newest_ns: Mapping[str, int]  # equipment -> timestamp of its newest sample
    links: Mapping[str, bool]  # printer or fleet id -> connected


@dataclass(frozen=True, slots=True)
class Condition:
    rule: str
    equipment: str
    severity: Severity
    message: str  # English
    message_zh: str
    since_ns: int | None  # when the data says it began (a state's start), where known


def _equipment(plant: Plant, rule: AlertRule) -> list[str]:
    if rule.equipment:
        return list(rule.equipment)
    if rule.scope == "printer":
        return [p.id for p in plant.printers]
    if rule.scope == "robot":
        return [r.id for f in plant.fleets for r in f.robots]
    return [p.id for p in plant.printers] + [f.id for f in plant.fleets]


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g}"


def _check(plant: Plant, rule: AlertRule, e: str, view: EquipmentView, now_ns: int) -> Condition | bool | None:
    """A Condition when it holds, False when it does not, None when the data cannot tell."""

    def holds(message: str, message_zh: str, since_ns: int | None = None) -> Condition:
        return Condition(rule.id, e, rule.severity, message, message_zh, since_ns)

    state = view.states.get(e)
    values = view.values.get(e, {})
    kind = rule.kind
    if kind is AlertKind.LINE_STOPPED:
        if state is None:
            return None
        code, since = state
        limit = rule.stopped_longer_than_s or 0.0
        if code in NOT_STOPPED or now_ns - since <= limit * NS_PER_S:
            return False
        return holds(f"{e} stopped for more than {_minutes(limit)} min", f"{e} 停机超过 {_minutes(limit)} 分钟", since)
    if kind is AlertKind.STOP_REASON:
        if state is None or "stop_reason" not in values:
            return None
        reason = plant.stop_reason(round(values["stop_reason"]))
        if state[0] not in STOPPED_FOR_REASON or reason is None or reason.key not in (rule.stop_reasons or ()):
            return False
        return holds(f"{e} stopped: {reason.name}", f"{e} 停机：{reason.name_zh}", state[1])
    if kind is AlertKind.ROBOT_FAULT:
        error = values.get("error_code")
        if state is None and error is None:
            return None
        in_fault = state is not None and state[0] == RobotState.FAULT
        if not in_fault and not error:
            return False
        if error:
            return holds(
                f"{e} reports error code {round(error)}", f"{e} 报错误代码 {round(error)}", state[1] if state else None
            )
        return holds(f"{e} in fault", f"{e} 故障", state[1] if state else None)
    if kind is AlertKind.ROBOT_CHARGE_LOW:
        soc = values.get("soc_pct")
        limit = rule.charge_below_pct or 0.0
        if soc is None:
            return None
        if soc >= limit:
            return False
        return holds(f"{e} battery below {limit:g} %", f"{e} 电量低于 {limit:g}%")
    if kind is AlertKind.LINK_DOWN:
        connected = view.links.get(e)
        if connected is None:
            return None
        return False if connected else holds(f"link to {e} is down", f"{e} 通信中断")
    # DATA_STALE: printers only (robots report by exception, so an old value there is normal)
    newest = view.newest_ns.get(e)
    if newest is None:
        return None
    limit_s = (rule.stale_polls or 1) * plant.printer(e).modbus.poll_interval_s
    if now_ns - newest <= limit_s * NS_PER_S:
        return False
    return holds(f"no data from {e} for more than {limit_s:g} s", f"{e} 超过 {limit_s:g} 秒无数据")


@dataclass(frozen=True, slots=True)
class Evaluation:
    holding: dict[AlertKey, Condition]
    known: frozenset[AlertKey]  # every pair the data could decide (holding or not)


def conditions(plant: Plant, view: EquipmentView, now_ns: int) -> Evaluation:
    """Every rule of the plant against every equipment it watches."""
    holding: dict[AlertKey, Condition] = {}
    known: set[AlertKey] = set()
    for rule in plant.alerts.rules:
        for e in _equipment(plant, rule):
            result = _check(plant, rule, e, view, now_ns)
            if result is None:
                continue
            known.add((rule.id, e))
            if isinstance(result, Condition):
                holding[(rule.id, e)] = result
    return Evaluation(holding, frozenset(known))


class Transition(StrEnum):
    RAISED = "raised"
    CLEARED = "cleared"
    ACKNOWLEDGED = "acknowledged"


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One alert from raised to cleared. ``id`` is unique and stable: rule, equipment and raised time."""

    id: str
    rule: str
    equipment: str
    severity: Severity
    message: str
    message_zh: str
    raised_ns: int
    cleared_ns: int | None = None
    acknowledged_ns: int | None = None
    acknowledged_by: str | None = None

    @property
    def key(self) -> AlertKey:
        return (self.rule, self.equipment)

    @property
    def active(self) -> bool:
        return self.cleared_ns is None


def alert_id(rule: str, equipment: str, raised_ns: int) -> str:
    return f"{rule}.{equipment}.{raised_ns}"


@dataclass(frozen=True, slots=True)
class Change:
    transition: Transition
    alert: AlertEvent  # as it is after the change


class AlertBook:
    """The active alerts, one per (rule, equipment); ``update`` returns what changed."""

    def __init__(self, active: Iterable[AlertEvent] = ()) -> None:
        self._active: dict[AlertKey, AlertEvent] = {a.key: a for a in active if a.active}

    @property
    def active(self) -> list[AlertEvent]:
        return sorted(self._active.values(), key=lambda a: (a.raised_ns, a.id))

    def update(self, evaluation: Evaluation, now_ns: int, rules: Iterable[str] | None = None) -> list[Change]:
        """Raise what newly holds, clear what the data shows is over (or whose rule is gone from ``rules``)."""
        changes: list[Change] = []
        current = None if rules is None else set(rules)
        for key, alert in list(self._active.items()):
            gone = current is not None and key[0] not in current
            if gone or (key in evaluation.known and key not in evaluation.holding):
                cleared = replace(alert, cleared_ns=max(now_ns, alert.raised_ns))
                del self._active[key]
                changes.append(Change(Transition.CLEARED, cleared))
        for key, cond in sorted(evaluation.holding.items()):
            if key in self._active:
                continue
            alert = AlertEvent(
                alert_id(cond.rule, cond.equipment, now_ns),
                cond.rule,
                cond.equipment,
                cond.severity,
                cond.message,
                cond.message_zh,
                now_ns,
            )
            self._active[key] = alert
            changes.append(Change(Transition.RAISED, alert))
        return changes

    def find(self, alert_id_: str) -> AlertEvent | None:
        return next((a for a in self._active.values() if a.id == alert_id_), None)

    def acknowledge(self, alert_id_: str, who: str, now_ns: int) -> Change | None:
        """Mark an active alert acknowledged (the first acknowledgement stands); None if it is not active."""
        alert = self.find(alert_id_)
        if alert is None:
            return None
        if alert.acknowledged_ns is None:
            alert = replace(alert, acknowledged_ns=now_ns, acknowledged_by=who)
            self._active[alert.key] = alert
        return Change(Transition.ACKNOWLEDGED, alert)
