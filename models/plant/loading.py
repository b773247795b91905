"""The whole plant document, its cross-references, and reading it from a file.

``load_plant(path)`` is the only entry point that touches the file system; a
bad file raises :class:`PlantFileError`, whose message names the file, the
key path and what was expected.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import Field, ValidationError, model_validator

from shopfloor.models.plant.alerts import AlertSettings
from shopfloor.models.plant.common import PlantInfo, StopReason, StrictModel, by_key
from shopfloor.models.plant.designs import Design
from shopfloor.models.plant.modbus import Printer
from shopfloor.models.plant.opcua import Fleet
from shopfloor.models.plant.settings import ApiSettings, Baseline, KpiSettings, Simulation, StorageSettings
from shopfloor.models.plant.shifts import ShiftCalendar
from shopfloor.models.plant.teams import Team, TeamKind

DEFAULT_PLANT_RESOURCE = "mso_cpp_plant.toml"


class Plant(StrictModel):
    plant: PlantInfo
    stop_reasons: list[StopReason]
    printers: list[Printer] = Field(default_factory=list)
    designs: Annotated[list[Design], Field(max_length=10_000)] = Field(default_factory=list)
    fleets: list[Fleet] = Field(default_factory=list)
    shift_calendar: ShiftCalendar
    teams: list[Team]
    baseline: Baseline
    storage: StorageSettings = Field(default_factory=StorageSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    kpi: KpiSettings = Field(default_factory=KpiSettings)
    simulation: Simulation = Field(default_factory=Simulation)
    alerts: AlertSettings = Field(default_factory=AlertSettings)

    @model_validator(mode="after")
    def _cross_references(self) -> Plant:
        codes = [r.code for r in self.stop_reasons]
        if len(set(codes)) != len(codes):
            raise ValueError("stop_reasons: codes must be unique")
        repeated_designs = sorted(c for c, n in Counter(d.code for d in self.designs).items() if n > 1)
        if repeated_designs:
            raise ValueError(f"designs: codes must be unique, repeated: {repeated_designs}")
        equipment = [p.id for p in self.printers] + [f.id for f in self.fleets]
        robots = [r.id for f in self.fleets for r in f.robots]
        everything = equipment + robots
        repeated = sorted({i for i in everything if everything.count(i) > 1})
        if repeated:
            raise ValueError(f"equipment ids must be unique across printers, fleets and robots: {repeated}")
        team_ids = [t.id for t in self.teams]
        if len(set(team_ids)) != len(team_ids):
            raise ValueError("team ids must be unique")
        printer_ids = {p.id for p in self.printers}
        fleet_ids = {f.id for f in self.fleets}
        for team in self.teams:
            for item in team.equipment:
                if item not in printer_ids | fleet_ids:
                    raise ValueError(
                        f"team {team.id!r} is responsible for {item!r}, which is neither a printer"
                        f" ({sorted(printer_ids)}) nor a fleet ({sorted(fleet_ids)})"
                    )
            kinds = {"printer" if e in printer_ids else "fleet" for e in team.equipment}
            for objective in team.objectives:
                if objective.kpi.equipment_kind not in kinds:
                    raise ValueError(
                        f"team {team.id!r}: objective {objective.kpi.value!r} needs a"
                        f" {objective.kpi.equipment_kind} among the team's equipment"
                    )
        crew_ids = {t.id for t in self.teams if t.kind is TeamKind.CREW}
        for shift in self.shift_calendar.shifts:
            for crew in shift.crews:
                if crew not in crew_ids:
                    raise ValueError(f"shift {shift.id!r} names crew {crew!r}, which is not a team of kind 'crew'")
        self._alert_references(printer_ids, fleet_ids, robots)
        return self

    def _alert_references(self, printer_ids: set[str], fleet_ids: set[str], robots: list[str]) -> None:
        """Every rule names equipment of the kind it watches, stop reasons this plant has, and a charge level of
        its own (if any) that is not its fleets' low_charge_pct again."""
        watched = {"printer": sorted(printer_ids), "robot": sorted(robots), "link": sorted(printer_ids | fleet_ids)}
        reason_keys = {r.key for r in self.stop_reasons}
        for rule in self.alerts.rules:
            known = watched[rule.scope]
            wrong = [e for e in rule.equipment if e not in known]
            if wrong:
                raise ValueError(
                    f"alerts.rules {rule.id!r} ({rule.kind.value}) watches {rule.scope} ids; {wrong} are not"
                    f" (known: {', '.join(known)})"
                )
            if rule.charge_below_pct is not None:
                self._own_charge_level(rule.id, rule.charge_below_pct, set(rule.equipment))
            unknown = sorted(set(rule.stop_reasons or ()) - reason_keys)
            if unknown:
                raise ValueError(
                    f"alerts.rules {rule.id!r}: stop reasons {unknown} are not keys of stop_reasons"
                    f" (known: {', '.join(sorted(reason_keys))})"
                )

    def _own_charge_level(self, rule_id: str, pct: float, equipment: set[str]) -> None:
        """A rule's own charge level that only repeats its fleets' ``low_charge_pct`` is a second home of one
        number: refused, so changing the fleet's level changes the alert's too."""
        fleets = [f for f in self.fleets if not equipment or any(r.id in equipment for r in f.robots)]
        if fleets and all(f.low_charge_pct == pct for f in fleets):
            names = ", ".join(f.id for f in fleets)
            raise ValueError(
                f"alerts.rules {rule_id!r}: charge_below_pct {pct:g} repeats low_charge_pct of {names}; leave it out"
                " (the rule then uses its fleet's low_charge_pct) or set a different andon level"
            )

    @property
    def tz(self) -> ZoneInfo:
        return self.plant.tz

    def printer(self, printer_id: str) -> Printer:
        return by_key(self.printers, printer_id, lambda p: p.id)

    def fleet(self, fleet_id: str) -> Fleet:
        return by_key(self.fleets, fleet_id, lambda f: f.id)

    def team(self, team_id: str) -> Team:
        return by_key(self.teams, team_id, lambda t: t.id)

    def design(self, code: int) -> Design | None:
        """The design with this code; None for 0 (no design) or a code the file does not list."""
        try:
            return by_key(self.designs, code, lambda d: d.code)
        except KeyError:
            return None

    def stop_reason(self, code: int) -> StopReason | None:
        try:
            return by_key(self.stop_reasons, code, lambda r: r.code)
        except KeyError:
            return None  # a code the file does not list is an answer here (callers show or refuse it), not an error


class PlantFileError(Exception):
    """A plant file that cannot be used, with every problem found in it."""

    def __init__(self, path: Path | str, problems: list[tuple[str, str]]):
        self.path = str(path)
        self.problems = problems
        lines = [f"{key}: {message}" if key else message for key, message in problems]
        if len(lines) == 1:  # one problem, one line (what a command prints before it exits)
            super().__init__(f"plant file {self.path} is invalid: {lines[0]}")
        else:
            super().__init__("\n  ".join([f"plant file {self.path} is invalid:", *lines]))


def _describe_location(raw: Any, loc: tuple[int | str, ...]) -> str:
    """Key path like ``printers[0] (mso-cpp-1).signals[3] (speed_m_min).address``."""
    parts: list[str] = []
    node = raw
    for item in loc:
        if isinstance(item, int):
            label = f"[{item}]"
            if isinstance(node, list) and 0 <= item < len(node):
                node = node[item]
                if isinstance(node, dict):
                    name = node.get("id") or node.get("name") or node.get("key")
                    if isinstance(name, str | int):
                        label += f" ({name})"
            else:
                node = None
            if parts:
                parts[-1] += label
            else:
                parts.append(label)
        else:
            parts.append(str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return ".".join(parts)


def _describe_error(error: dict[str, Any]) -> str:
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return "unknown key (check its spelling; see docs/plant-file.md)"
    if kind == "missing":
        return "required key is missing"
    if "input" in error and kind not in ("value_error", "assertion_error"):
        shown = error["input"]
        if isinstance(shown, dict | list):
            shown = type(shown).__name__
        message += f" (got {shown!r})"
    return message


def plant_from_dict(raw: dict[str, Any], source: Path | str = "<dict>") -> Plant:
    """Validate an already-parsed plant document; raise PlantFileError naming ``source``."""
    try:
        return Plant.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            problems.append((_describe_location(raw, loc), _describe_error(dict(error))))
        raise PlantFileError(source, problems) from None


def load_plant(path: Path | str | None = None) -> Plant:
    """Load and validate a plant file; ``None`` loads the default plant shipped with the project."""
    if path is None:
        text = resources.files("shopfloor.models.plants").joinpath(DEFAULT_PLANT_RESOURCE).read_text(encoding="utf-8")
        source: Path | str = f"<built-in {DEFAULT_PLANT_RESOURCE}>"
    else:
        source = Path(path)
        try:
            text = source.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise PlantFileError(source, [("", "file not found")]) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise PlantFileError(source, [("", f"cannot be read: {exc}")]) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PlantFileError(source, [("", f"not valid TOML: {exc}")]) from None
    return plant_from_dict(raw, source)
