"""Andon alerts, pure: which rule conditions hold now, and the raise / clear / acknowledge book.

``conditions(plant, view, now_ns)`` reads the latest state of every
equipment (``EquipmentView``: what the live hub holds) and returns, for each
(rule, equipment) pair, whether the condition holds, or nothing when the data
cannot tell (no sample yet, no link reported yet). Unknown is not false: an
alert raised before a restart stays active until data shows it is over.

Hourly attainment is not computed per poll: the view carries, per printer,
the newest closed hour of the hour-by-hour board (``ClosedHour``, set by the
API's hourly watch when an hour closes); the check only compares it.

``AlertBook`` turns successive evaluations into events: an alert is raised
once when its condition starts to hold, and cleared once when it stops;
while it holds, nothing is repeated (deduplication). An acknowledgement marks
the active alert; it does not clear it. No I/O here: the API's alert service
stores the events and sends them on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from shopfloor.models.calendar import from_ns
from shopfloor.models.plant import AlertKind, AlertRule, Plant, Severity
from shopfloor.models.states import PrinterState, RobotState
from shopfloor.models.timebase import NS_PER_S

# A line "stopped" for line_stopped: not running, and not on purpose (planned maintenance, switched off).
NOT_STOPPED = frozenset({PrinterState.RUNNING, PrinterState.MAINTENANCE, PrinterState.OFFLINE})
STOPPED_FOR_REASON = frozenset(PrinterState) - {PrinterState.RUNNING}

AlertKey = tuple[str, str]  # (rule id, equipment id)


@dataclass(frozen=True, slots=True)
class ClosedHour:
    """One closed hour of a printer's hour-by-hour board (models/board.py), as the board answered after it closed."""

    start_ns: int
    end_ns: int
    target_m: float
    actual_m: float | None  # None: no data that hour
    attainment_pct: float | None  # the board's actual / target; None without a target or without data
    # None: the verdict stands until the next closed hour replaces it. The last hour of a shift no shift follows
    # at once: its end plus an hour (the shift is over; its miss was shown as long as any other hour's).
    holds_until_ns: int | None = None


@dataclass(frozen=True, slots=True)
class EquipmentView:
    """The latest known facts of the plant's equipment (from the live hub)."""

    states: Mapping[str, tuple[int, int]]  # equipment -> (state code, since_ns)
    values: Mapping[str, Mapping[str, float]]  # equipment -> field -> newest value
    newest_ns: Mapping[str, int]  # equipment -> timestamp of its newest sample
    links: Mapping[str, bool]  # printer or fleet id -> connected
    closed_hours: Mapping[str, ClosedHour] = field(default_factory=dict)  # printer -> its newest closed hour


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


@dataclass(slots=True)  # not frozen: made once per rule and equipment at every evaluation, and frozen init is slow
class _Subject:
    """One rule against one equipment, with what is known of it now (read only)."""

    plant: Plant
    rule: AlertRule
    equipment: str
    state: tuple[int, int] | None  # (code, since_ns)
    values: Mapping[str, float]
    view: EquipmentView
    now_ns: int
    default_threshold: float | None = None  # the plant's level for a rule that sets none (ALERT_KINDS default_from)
    poll_scale: float = 1.0  # plant seconds a poll interval lasts per second of the plant file's (see conditions)


# What a check finds: (message, message_zh, since_ns) when the condition holds, False when it does not, None
# when the data cannot tell.
Found = tuple[str, str, int | None] | bool | None


def _line_stopped(s: _Subject) -> Found:
    if s.state is None:
        return None
    code, since = s.state
    limit = s.rule.stopped_longer_than_s or 0.0
    if code in NOT_STOPPED or s.now_ns - since <= limit * NS_PER_S:
        return False
    e = s.equipment
    return f"{e} stopped for more than {_minutes(limit)} min", f"{e} 停机超过 {_minutes(limit)} 分钟", since


def _stop_reason(s: _Subject) -> Found:
    if s.state is None or "stop_reason" not in s.values:
        return None
    reason = s.plant.stop_reason(round(s.values["stop_reason"]))
    if s.state[0] not in STOPPED_FOR_REASON or reason is None or reason.key not in (s.rule.stop_reasons or ()):
        return False
    return f"{s.equipment} stopped: {reason.name}", f"{s.equipment} 停机：{reason.name_zh}", s.state[1]


def _robot_fault(s: _Subject) -> Found:
    error = s.values.get("error_code")
    if s.state is None and error is None:
        return None
    since = s.state[1] if s.state else None
    if error:
        return f"{s.equipment} reports error code {round(error)}", f"{s.equipment} 报错误代码 {round(error)}", since
    if s.state is not None and s.state[0] == RobotState.FAULT:
        return f"{s.equipment} in fault", f"{s.equipment} 故障", since
    return False


def _robot_charge_low(s: _Subject) -> Found:
    soc = s.values.get("soc_pct")
    if soc is None:
        return None
    limit = s.rule.charge_below_pct if s.rule.charge_below_pct is not None else s.default_threshold
    if limit is None:
        return None
    return soc < limit and (f"{s.equipment} battery below {limit:g} %", f"{s.equipment} 电量低于 {limit:g}%", None)


def _link_down(s: _Subject) -> Found:
    connected = s.view.links.get(s.equipment)
    if connected is None:
        return None
    return not connected and (f"link to {s.equipment} is down", f"{s.equipment} 通信中断", None)


def _data_stale(s: _Subject) -> Found:
    """Printers only: robots report by exception, so an old value there is normal."""
    newest = s.view.newest_ns.get(s.equipment)
    if newest is None:
        return None
    limit_s = (s.rule.stale_polls or 1) * s.plant.printer(s.equipment).modbus.poll_interval_s * s.poll_scale
    if s.now_ns - newest <= limit_s * NS_PER_S:
        return False
    return f"no data from {s.equipment} for more than {limit_s:g} s", f"{s.equipment} 超过 {limit_s:g} 秒无数据", None


def _defaults(plant: Plant, rule: AlertRule) -> dict[str, float]:
    """Per equipment, the threshold of a rule that sets none: a robot's fleet's ``low_charge_pct``."""
    if rule.kind is AlertKind.ROBOT_CHARGE_LOW and rule.charge_below_pct is None:
        return {r.id: f.low_charge_pct for f in plant.fleets for r in f.robots}
    return {}


def _hourly_attainment_low(s: _Subject) -> Found:
    """The newest closed hour's verdict stands until the next hour closes (in this shift or the next one, when it
    follows at once); after the last shift before a pause, until ``holds_until_ns``. An hour without a target (a
    planned break, no plan) never holds; an hour without data cannot tell."""
    hour = s.view.closed_hours.get(s.equipment)
    if hour is None:
        return None
    if hour.holds_until_ns is not None and s.now_ns >= hour.holds_until_ns:
        return False
    if hour.target_m <= 0:
        return False
    if hour.attainment_pct is None:
        return None
    limit = s.rule.attainment_below_pct or 0.0
    if hour.attainment_pct >= limit:
        return False
    tz = s.plant.tz
    span = f"{from_ns(hour.start_ns, tz):%H:%M}-{from_ns(hour.end_ns, tz):%H:%M}"
    pct = f"{hour.attainment_pct:.0f}"
    return (
        f"{s.equipment} made {pct} % of its target in {span} (below {limit:g} %)",
        f"{s.equipment} {span} 完成目标 {pct}%（低于 {limit:g}%）",
        hour.end_ns,
    )


CHECKS: dict[AlertKind, Callable[[_Subject], Found]] = {
    AlertKind.LINE_STOPPED: _line_stopped,
    AlertKind.STOP_REASON: _stop_reason,
    AlertKind.ROBOT_FAULT: _robot_fault,
    AlertKind.ROBOT_CHARGE_LOW: _robot_charge_low,
    AlertKind.LINK_DOWN: _link_down,
    AlertKind.DATA_STALE: _data_stale,
    AlertKind.HOURLY_ATTAINMENT_LOW: _hourly_attainment_low,
}


@dataclass(frozen=True, slots=True)
class Evaluation:
    holding: dict[AlertKey, Condition]
    known: frozenset[AlertKey]  # every pair the data could decide (holding or not)


def conditions(plant: Plant, view: EquipmentView, now_ns: int, *, poll_scale: float = 1.0) -> Evaluation:
    """Every rule of the plant against every equipment it watches.

    ``poll_scale``: how many times longer a poll interval of the plant file is on the plant's clock. The
    collectors poll every ``poll_interval_s`` of wall time; in a time-scaled demo the plant's clock (``now_ns``,
    the samples' stamps) runs ``time_scale`` times faster, so "older than N polls" is N polls of that clock, as
    the gap rule's ``max_gap_polls`` is (cli/demo.py)."""
    holding: dict[AlertKey, Condition] = {}
    known: set[AlertKey] = set()
    for rule in plant.alerts.rules:
        check = CHECKS[rule.kind]
        defaults = _defaults(plant, rule)
        for e in _equipment(plant, rule):
            state, values = view.states.get(e), view.values.get(e, {})
            subject = _Subject(plant, rule, e, state, values, view, now_ns, poll_scale=poll_scale)
            if defaults:
                subject.default_threshold = defaults.get(e)
            found = check(subject)
            if found is None:
                continue
            known.add((rule.id, e))
            if isinstance(found, tuple):
                message, message_zh, since_ns = found
                holding[(rule.id, e)] = Condition(rule.id, e, rule.severity, message, message_zh, since_ns)
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
