"""The full KPI report: per shift, per day, per equipment and per team, for one time range.

``build_report`` is the only entry point the API needs. It runs the
vectorised pipeline once per equipment (loops here are over a handful of
printers, robots, shifts and teams, never over samples), then sums the
additive totals into every grouping and derives the ratios from the sums.
Series may carry context samples beyond the range (docs/kpi.md, "Context";
``context.report_context`` cuts them): then every shift of the report has
exactly the totals a report of that shift alone has.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import reduce
from typing import Any

from shopfloor.models.calendar import ShiftInstance, shift_instances
from shopfloor.models.kpi.context import OPEN_END_NS
from shopfloor.models.kpi.fleet import FleetKpis, FleetTotals, fleet_kpis
from shopfloor.models.kpi.outages import outage_spans
from shopfloor.models.kpi.pipeline import KpiConfig, printer_shift_totals, printer_throughput, robot_shift_totals
from shopfloor.models.kpi.printer import PrinterKpis, PrinterTotals, printer_kpis
from shopfloor.models.kpi.teams import Score, ranked, score
from shopfloor.models.plant import Plant, Team, TeamKind
from shopfloor.models.samples import ConnectivityEvent, Series

SeriesMap = Mapping[str, Mapping[str, Series]]


@dataclass(frozen=True, slots=True)
class ShiftReport:
    key: str  # e.g. "2026-11-24/night"
    shift_id: str
    production_date: dt.date
    crew: str | None
    start_ns: int
    end_ns: int
    printers: dict[str, PrinterKpis]
    fleets: dict[str, FleetKpis]


@dataclass(frozen=True, slots=True)
class DayReport:
    production_date: dt.date
    printers: dict[str, PrinterKpis]
    fleets: dict[str, FleetKpis]


@dataclass(frozen=True, slots=True)
class TeamReport:
    team_id: str
    kind: str
    rank: int  # 1 = best
    shifts: int  # shift instances the team is scored on
    score: Score  # over the whole range
    by_shift: dict[str, Score]  # shift key -> score
    trend: dict[dt.date, float | None]  # production date -> score that day


@dataclass(frozen=True, slots=True)
class HourlyThroughput:
    edges_ns: tuple[int, ...]
    printed_m: tuple[float | None, ...]  # None: no observed reading in that hour (no data, not zero)
    across_gap_m: float = 0.0  # metres read across a gap: in the totals, in no hour (their time is unknown)


@dataclass(frozen=True, slots=True)
class KpiReport:
    plant_id: str
    start_ns: int
    end_ns: int
    currency: str
    shifts: tuple[ShiftReport, ...]
    days: tuple[DayReport, ...]
    printers: dict[str, PrinterKpis]  # over the whole range (sum of its shifts)
    fleets: dict[str, FleetKpis]
    robots: dict[str, FleetKpis]
    teams: tuple[TeamReport, ...]  # ranked, best first
    throughput: dict[str, HourlyThroughput]

    def to_dict(self) -> dict[str, Any]:
        """Plain dicts, lists and numbers (dates as ISO strings) for JSON."""
        return _jsonable(asdict(self))


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k.isoformat() if isinstance(k, dt.date) else k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, frozenset):
        return sorted(x)
    if isinstance(x, dt.date):
        return x.isoformat()
    return x


def _sum_printers(items: Iterable[PrinterTotals]) -> PrinterTotals:
    return reduce(lambda a, b: a + b, items, PrinterTotals())


# Up to this many totals are summed pairwise: joining the response durations apart costs more than it saves.
_PAIRWISE_MAX = 64


def _sum_fleets(items: Iterable[FleetTotals]) -> FleetTotals:
    """``sum`` with ``+``, but the response durations of many totals joined once: adding them pairwise copies the
    growing tuple at every step, quadratic over a year's shifts. The same fold order, so the same floats as ``+``."""
    parts = list(items)
    if len(parts) <= _PAIRWISE_MAX:
        return reduce(lambda a, b: a + b, parts, FleetTotals())
    total = reduce(lambda a, b: a + b, (dataclasses.replace(t, response_s=()) for t in parts), FleetTotals())
    return dataclasses.replace(total, response_s=tuple(itertools.chain.from_iterable(t.response_s for t in parts)))


def team_instances(team: Team, instances: Sequence[ShiftInstance]) -> list[int]:
    """Equipment teams answer for every shift; crews only for the shifts they work."""
    if team.kind is TeamKind.EQUIPMENT:
        return list(range(len(instances)))
    return [k for k, i in enumerate(instances) if i.crew == team.id]


@dataclass(frozen=True, slots=True)
class EquipmentTotals:
    """The additive totals of a range per shift instance: what a report is assembled from, and what the ledger
    keeps per closed shift. ``printers[id][k]`` / ``robots[id][k]`` belong to ``instances[k]``."""

    instances: tuple[ShiftInstance, ...]
    printers: dict[str, list[PrinterTotals]]
    robots: dict[str, list[FleetTotals]]  # per robot id
    throughput: dict[str, HourlyThroughput]


def equipment_totals(
    plant: Plant,
    start_ns: int,
    end_ns: int,
    series: SeriesMap,
    events: Sequence[ConnectivityEvent] = (),
    config: KpiConfig = KpiConfig(),
    throughput_period_s: float | None = 3600.0,
) -> EquipmentTotals:
    """The vectorised work of a report: per equipment, per shift instance overlapping [start_ns, end_ns).

    ``events`` must reach the last sample of ``series`` (context samples too): outage spans are not cut
    at ``end_ns``, since an outage after it still makes the increment closed by a later context sample
    across-gap (inside the range, spans cut or not give the same figures). ``throughput_period_s=None``
    skips the bucketed throughput (the ledger keeps shift totals, not buckets).
    """
    if end_ns <= start_ns:
        raise ValueError(f"empty range: start_ns {start_ns} >= end_ns {end_ns}")
    inst = shift_instances(plant.shift_calendar, plant.tz, start_ns, end_ns)
    n = len(inst)
    p_tot: dict[str, list[PrinterTotals]] = {}
    hourly: dict[str, HourlyThroughput] = {}
    for p in plant.printers:
        fields = series.get(p.id, {})
        out = outage_spans(events, p.id, start_ns, OPEN_END_NS)
        p_tot[p.id] = printer_shift_totals(
            p, plant.stop_reasons, fields, start_ns, end_ns, inst, out, config, plant.designs
        )[:n]
        if throughput_period_s is not None:
            tp = printer_throughput(p, fields, start_ns, end_ns, throughput_period_s, out, config)
            hourly[p.id] = HourlyThroughput(
                tuple(int(e) for e in tp.edges_ns),
                tuple(None if v != v else float(v) for v in tp.amount),
                tp.across_gap,
            )
    r_tot: dict[str, list[FleetTotals]] = {}
    for f in plant.fleets:
        # Not cut at start: a robot's counter increment booked at its change inside the range covers time since
        # the reading before it, and whether an outage lay in between must not depend on where the range starts.
        out = outage_spans(events, f.id, 0, OPEN_END_NS)
        for r in f.robots:
            r_tot[r.id] = robot_shift_totals(f, r.id, series.get(r.id, {}), start_ns, end_ns, inst, out, config)[:n]
    return EquipmentTotals(tuple(inst), p_tot, r_tot, hourly)


def _fleet_shift_totals(plant: Plant, totals: EquipmentTotals) -> dict[str, list[FleetTotals]]:
    """Per fleet, per shift instance: the sum of its robots."""
    out: dict[str, list[FleetTotals]] = {}
    for f in plant.fleets:
        per_robot = [totals.robots[r.id] for r in f.robots]
        out[f.id] = [_sum_fleets(robot[k] for robot in per_robot) for k in range(len(totals.instances))]
    return out


def _team_kpis(
    plant: Plant,
    team: Team,
    p_tot: Mapping[str, Sequence[PrinterTotals]],
    f_tot: Mapping[str, Sequence[FleetTotals]],
    ks: Sequence[int],
) -> tuple[PrinterKpis | None, FleetKpis | None]:
    """The KPIs of a team's own printers and fleets over the shift instances ``ks`` (None: it has none)."""
    own_p = [e for e in team.equipment if e in p_tot]
    own_f = [e for e in team.equipment if e in f_tot]
    printer = (
        printer_kpis(_sum_printers(p_tot[e][k] for e in own_p for k in ks), plant.baseline, plant.stop_reasons)
        if own_p
        else None
    )
    fleet = fleet_kpis(_sum_fleets(f_tot[e][k] for e in own_f for k in ks)) if own_f else None
    return printer, fleet


def build_report(
    plant: Plant,
    start_ns: int,
    end_ns: int,
    series: SeriesMap,
    events: Sequence[ConnectivityEvent] = (),
    config: KpiConfig = KpiConfig(),
) -> KpiReport:
    """Every KPI of ``plant`` over [start_ns, end_ns) from the stored series and connectivity events
    (``equipment_totals``, then ``assemble_report``)."""
    totals = equipment_totals(plant, start_ns, end_ns, series, events, config)
    return assemble_report(plant, start_ns, end_ns, totals, config)


def assemble_report(
    plant: Plant, start_ns: int, end_ns: int, totals: EquipmentTotals, config: KpiConfig = KpiConfig()
) -> KpiReport:
    """Every grouping of a report (shifts, days, equipment, robots, teams) from per-shift totals, whether they
    were just computed or kept in the ledger: every ratio comes from summed totals."""
    inst = list(totals.instances)
    p_tot = totals.printers
    hourly = totals.throughput
    f_tot = _fleet_shift_totals(plant, totals)
    r_tot = {r.id: _sum_fleets(totals.robots[r.id]) for f in plant.fleets for r in f.robots}

    def pk(t: PrinterTotals) -> PrinterKpis:
        return printer_kpis(t, plant.baseline, plant.stop_reasons)

    # ---- groupings: every ratio comes from summed totals
    shifts = tuple(
        ShiftReport(
            i.key,
            i.shift_id,
            i.production_date,
            i.crew,
            i.start_ns,
            i.end_ns,
            {pid: pk(t[k]) for pid, t in p_tot.items()},
            {fid: fleet_kpis(t[k]) for fid, t in f_tot.items()},
        )
        for k, i in enumerate(inst)
    )
    dates = sorted({i.production_date for i in inst})
    by_date: dict[dt.date, list[int]] = {d: [] for d in dates}
    for k, i in enumerate(inst):
        by_date[i.production_date].append(k)
    days = tuple(
        DayReport(
            d,
            {pid: pk(_sum_printers(t[k] for k in ks)) for pid, t in p_tot.items()},
            {fid: fleet_kpis(_sum_fleets(t[k] for k in ks)) for fid, t in f_tot.items()},
        )
        for d, ks in by_date.items()
    )
    printers = {pid: pk(_sum_printers(t)) for pid, t in p_tot.items()}
    fleets = {fid: fleet_kpis(_sum_fleets(t)) for fid, t in f_tot.items()}
    robots = {rid: fleet_kpis(t) for rid, t in r_tot.items()}

    # ---- teams
    def team_score(team: Team, ks: list[int]) -> Score:
        printer, fleet = _team_kpis(plant, team, p_tot, f_tot, ks)
        return score(team.objectives, printer, fleet, len(ks), config.attainment_cap)

    partial = []
    for team in plant.teams:
        ks = team_instances(team, inst)
        in_ks = set(ks)
        trend = {}
        for d, day_ks in by_date.items():
            mine = [k for k in day_ks if k in in_ks]
            trend[d] = team_score(team, mine).score if mine else None
        partial.append((team, ks, team_score(team, ks), {inst[k].key: team_score(team, [k]) for k in ks}, trend))
    order = ranked({team.id: s.score for team, _, s, _, _ in partial})
    teams = tuple(
        sorted(
            (
                TeamReport(team.id, team.kind.value, order.index(team.id) + 1, len(ks), s, by_shift, trend)
                for team, ks, s, by_shift, trend in partial
            ),
            key=lambda t: t.rank,
        )
    )
    return KpiReport(
        plant.plant.id, start_ns, end_ns, plant.baseline.currency, shifts, days, printers, fleets, robots, teams, hourly
    )


# ---------------------------------------------------------------------------------------------- period reports


@dataclass(frozen=True, slots=True)
class TeamPeriod:
    """A team over one period: its score and rank, and what its own equipment did in its shifts."""

    team_id: str
    kind: str
    rank: int  # 1 = best, among the plant's teams over the same period
    shifts: int  # shift instances the team is scored on
    score: Score
    printer: PrinterKpis | None  # the team's printers summed over its shifts (Pareto, energy); None: it has none
    fleet: FleetKpis | None  # the team's fleets summed over its shifts; None: it has none


@dataclass(frozen=True, slots=True)
class PeriodReport:
    """Equipment and team figures of one span of a range: the sum of the shift instances that start in it."""

    label: str
    start_ns: int
    end_ns: int
    shifts: int
    printers: dict[str, PrinterKpis]
    fleets: dict[str, FleetKpis]
    robots: dict[str, FleetKpis]
    teams: tuple[TeamPeriod, ...]  # ranked, best first


def period_reports(
    plant: Plant,
    start_ns: int,
    end_ns: int,
    totals: EquipmentTotals,
    spans: Sequence[tuple[str, int, int]],
    config: KpiConfig = KpiConfig(),
) -> tuple[PeriodReport, ...]:
    """Per (label, start_ns, end_ns) span: the figures of the shift instances of ``totals`` (a range
    [start_ns, end_ns)) whose start lies in the span, the first one's start counted as ``start_ns``.

    Only sums per span: none of a report's per-shift and per-day groupings, so a year or ten are cheap. The sums
    run in the order ``assemble_report`` runs them, so a span covering the whole range has exactly that report's
    equipment figures and team scores and ranks, to the last bit.
    """
    inst = totals.instances
    p_tot = totals.printers
    f_tot = _fleet_shift_totals(plant, totals)
    starts = [max(i.start_ns, start_ns) for i in inst]
    team_ks = {team.id: team_instances(team, inst) for team in plant.teams}
    out = []
    for label, span_start, span_end in spans:
        # instances are in time order, so a span's are one run of them
        lo, hi = bisect.bisect_left(starts, span_start), bisect.bisect_left(starts, min(span_end, end_ns))
        ks = range(lo, hi)
        scored: list[tuple[Team, int, Score, PrinterKpis | None, FleetKpis | None]] = []
        for team in plant.teams:
            own = team_ks[team.id]
            mine = own[bisect.bisect_left(own, lo) : bisect.bisect_left(own, hi)]
            printer, fleet = _team_kpis(plant, team, p_tot, f_tot, mine)
            scored.append(
                (
                    team,
                    len(mine),
                    score(team.objectives, printer, fleet, len(mine), config.attainment_cap),
                    printer,
                    fleet,
                )
            )
        order = ranked({team.id: s.score for team, _, s, _, _ in scored})
        teams = (
            TeamPeriod(team.id, team.kind.value, order.index(team.id) + 1, n, s, printer, fleet)
            for team, n, s, printer, fleet in scored
        )
        out.append(
            PeriodReport(
                label,
                span_start,
                span_end,
                len(ks),
                {
                    pid: printer_kpis(_sum_printers(t[k] for k in ks), plant.baseline, plant.stop_reasons)
                    for pid, t in p_tot.items()
                },
                {fid: fleet_kpis(_sum_fleets(t[k] for k in ks)) for fid, t in f_tot.items()},
                {rid: fleet_kpis(_sum_fleets(t[k] for k in ks)) for rid, t in totals.robots.items()},
                tuple(sorted(teams, key=lambda t: t.rank)),
            )
        )
    return tuple(out)
