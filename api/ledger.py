"""The KPI ledger: per closed shift and equipment, the additive totals, kept in the store (docs/kpi.md, "Ledger").

A report over any range is assembled from per-shift totals (models/kpi/report.py,
``assemble_report``). Closed shifts come from the ledger; only what the ledger
does not hold yet - the running shift, a shift that closed less than the
settling time ago, the partial shifts at the edges of an arbitrary range - is
computed from raw samples. Because every computation reads its range in
context (the last sample before, the closing reading after), a shift computed
alone equals that shift inside any longer computation, so the sum of ledger
rows equals the raw computation of the same range exactly.

``LedgerKeeper.catch_up`` writes the rows of closed shifts and recomputes the
rows that went stale: the plant file changed (``plant_version``), an operator's
correction touched the shift (a reason override, or an order event made or
withdrawn, newer than the row: one change sequence numbers both), or late
samples arrived (more samples in the shift than the row was computed from:
spool replay after an outage, a collector restarted).
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import logging
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from shopfloor.api.raw_window import expired
from shopfloor.models.calendar import ShiftInstance, shift_instances
from shopfloor.models.contract import MEASUREMENT_PRINTER, MEASUREMENT_ROBOT, PRINTER_ORDER_FIELDS
from shopfloor.models.kpi import KpiConfig
from shopfloor.models.kpi.context import read_end_ns, robot_lookahead_ns
from shopfloor.models.kpi.fleet import FleetTotals
from shopfloor.models.kpi.orders import apply_operator_orders, operator_order_spans
from shopfloor.models.kpi.overrides import apply_reason_overrides
from shopfloor.models.kpi.printer import PrinterTotals
from shopfloor.models.kpi.report import EquipmentTotals, equipment_totals
from shopfloor.models.ledger import LedgerRow, plant_version
from shopfloor.models.plant import Plant
from shopfloor.models.samples import ConnectivityEvent, Series
from shopfloor.models.timebase import NS_PER_DAY, NS_PER_S
from shopfloor.store.annotations import AnnotationStore
from shopfloor.store.base import SampleStore, StoreError, StoreUnavailable

log = logging.getLogger("shopfloor.api.ledger")

PRINTER_KPI_FIELDS = (
    "state",
    "stop_reason",
    "printed_m_total",
    "defective_m_total",
    "energy_kwh_total",
    "water_l_total",
    "ink_consumed_kg_total",
    # Which order (design) ran when: the ideal speed of each metre (docs/kpi.md, "Orders").
    *(f.name for f in PRINTER_ORDER_FIELDS),
)
ROBOT_COUNTER_FIELDS = ("energy_delivered_kwh_total", "sessions_completed_total", "sessions_failed_total")
ROBOT_KPI_FIELDS = ("state", *ROBOT_COUNTER_FIELDS)
# Events from before the range too: a link that went down yesterday and is still down makes the start of the
# range "no data" (the core clips every outage to the range).
CONNECTIVITY_LOOKBACK_NS = 7 * NS_PER_DAY
# Late samples are looked for in the shifts of this many days back on every pass (older: `ledger rebuild`).
LATE_CHECK_DAYS = 7
# A keeper pass computes at most this much raw history at once, so a first start over months of samples fills
# the ledger a day at a time without holding months of arrays.
CHUNK_NS = NS_PER_DAY


@dataclass(frozen=True, slots=True)
class KpiInputs:
    """What a computation of [start_ns, end_ns) reads: series in context (overrides applied) and events;
    ``measured``: the series as stored (what a ledger row counts as the samples it rests on)."""

    series: dict[str, dict[str, Series]]
    events: list[ConnectivityEvent]
    measured: dict[str, dict[str, Series]]


def with_operator_orders(
    annotations: AnnotationStore,
    series: dict[str, dict[str, Series]],
    printer_ids: Sequence[str],
    start_ns: int,
    range_end_ns: int,
) -> dict[str, dict[str, Series]]:
    """``series`` with each printer's operator orders over its order registers (docs/kpi.md, "Orders");
    ``range_end_ns``: one past the last sample read, as for reason overrides. A printer read without order
    fields, or whose map has none, gets them from its operator orders."""
    events = annotations.order_events(printer_ids, start_ns, range_end_ns)
    out = dict(series)
    for pid in printer_ids:
        spans = operator_order_spans([e for e in events if e.equipment == pid])
        if spans:
            out[pid] = apply_operator_orders(series.get(pid, {}), spans, range_end_ns)
    return out


def read_inputs(
    plant: Plant,
    store: SampleStore,
    annotations: AnnotationStore,
    start_ns: int,
    end_ns: int,
    config: KpiConfig,
    printer_fields: Sequence[str] = PRINTER_KPI_FIELDS,
    robot_fields: Sequence[str] = ROBOT_KPI_FIELDS,
) -> KpiInputs:
    """The range's samples in context (docs/kpi.md, "Context"), operator overrides applied, connectivity events.

    Fields left out are not read (a printer's hourly metres need its metres counter and nothing of the robots).
    """
    printer_ids = [p.id for p in plant.printers] if printer_fields else []
    robot_ids = [r.id for f in plant.fleets for r in f.robots] if robot_fields else []
    series: dict[str, dict[str, Series]] = {}
    if printer_ids:
        series.update(store.read_series_in_context(MEASUREMENT_PRINTER, printer_ids, printer_fields, start_ns, end_ns))
    if robot_ids:
        series.update(
            store.read_series_in_context(
                MEASUREMENT_ROBOT, robot_ids, robot_fields, start_ns, end_ns, robot_lookahead_ns(config)
            )
        )
    measured = dict(series)
    # Overrides and events must reach the last sample read: it can close an increment that starts inside.
    last_ns = read_end_ns(series.values(), end_ns)
    if printer_ids and any(f.name in printer_fields for f in PRINTER_ORDER_FIELDS):
        series = with_operator_orders(annotations, series, printer_ids, start_ns, last_ns + 1)
    if "stop_reason" in printer_fields and printer_ids:
        overrides = annotations.overrides(printer_ids, start_ns, last_ns + 1)
        for pid in printer_ids:
            mine = [o for o in overrides if o.equipment == pid]
            if mine:
                fields = dict(series[pid])
                fields["stop_reason"] = apply_reason_overrides(fields["stop_reason"], mine, last_ns + 1)
                series[pid] = fields
    link_ids = printer_ids + ([f.id for f in plant.fleets] if robot_ids else [])
    events = store.read_connectivity(link_ids, start_ns - CONNECTIVITY_LOOKBACK_NS, last_ns + 1)
    return KpiInputs(series, events, measured)


# A robot's counters report by exception: a reading books its increment just before it (models/kpi/counters.py,
# ``at_change``), so the readings a shift's counters rest on lie in (start, end], not [start, end).
BOOKED_AFTER_NS = 1


def samples_inside(
    series: Series, starts_ns: npt.NDArray[np.int64], ends_ns: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Per [start, end) pair, how many of the series' timestamps lie inside (one search per bound, not one scan of
    the series per shift: ten years of shifts are counted in a moment)."""
    ts = np.sort(series.ts_ns)
    return np.searchsorted(ts, ends_ns, "left") - np.searchsorted(ts, starts_ns, "left")


def shift_sample_counts(
    fields: Mapping[str, Series], starts_ns: npt.NDArray[np.int64], ends_ns: npt.NDArray[np.int64], *, robot: bool
) -> npt.NDArray[np.int64]:
    """Per [start, end) shift, the samples of ``fields`` its row rests on (``LedgerRow.samples_read``): inside the
    shift, but a robot's counter readings in (start, end] (BOOKED_AFTER_NS). The keeper's and the demo's one rule."""
    inside = np.zeros(len(starts_ns), dtype=np.int64)
    for name, series in fields.items():
        after = BOOKED_AFTER_NS if robot and name in ROBOT_COUNTER_FIELDS else 0
        inside += samples_inside(series, starts_ns + after, ends_ns + after)
    return inside


def settle_ns(config: KpiConfig) -> int:
    """How long after its end a shift's rows become final (robots' responses may connect up to the horizon)."""
    return round((config.response_horizon_s + config.ledger_settle_s) * NS_PER_S)


class LedgerIncomplete(RuntimeError):
    """A report would have to compute more raw history than a request may: the ledger is still being built."""


class Ledger:
    """Reads, computes and writes ledger rows of one plant over one store."""

    def __init__(
        self,
        plant: Plant,
        store: SampleStore,
        annotations: AnnotationStore,
        *,
        config: KpiConfig,
        clock_ns: Callable[[], int],
    ) -> None:
        self.plant = plant
        self.store = store
        self.annotations = annotations
        self.config = config
        self.clock_ns = clock_ns
        self.version = plant_version(plant)
        self.settle_ns = settle_ns(config)
        self.printer_ids = [p.id for p in plant.printers]
        self.robot_fleet = {r.id: f.id for f in plant.fleets for r in f.robots}
        self.equipment_ids = self.printer_ids + list(self.robot_fleet)
        self._first_data_ns: int | None = None  # kept once found: the past does not change (retention aside)

    # ------------------------------------------------------------------ computing

    def compute(self, start_ns: int, end_ns: int) -> tuple[EquipmentTotals, dict[str, list[int]]]:
        """Per-shift totals of [start_ns, end_ns) from raw samples, and per equipment the samples each shift
        instance was computed from."""
        inputs = read_inputs(self.plant, self.store, self.annotations, start_ns, end_ns, self.config)
        totals = equipment_totals(
            self.plant, start_ns, end_ns, inputs.series, inputs.events, self.config, throughput_period_s=None
        )
        starts = np.array([max(i.start_ns, start_ns) for i in totals.instances], dtype=np.int64)
        ends = np.array([min(i.end_ns, end_ns) for i in totals.instances], dtype=np.int64)
        counts: dict[str, list[int]] = {}
        for equipment in self.equipment_ids:
            fields = inputs.measured.get(equipment, {})
            inside = shift_sample_counts(fields, starts, ends, robot=equipment in self.robot_fleet)
            counts[equipment] = [int(n) for n in inside]
        return totals, counts

    def rows_of(
        self, totals: EquipmentTotals, counts: dict[str, list[int]], annotation_version: int, watermark_ns: int
    ) -> list[LedgerRow]:
        now = self.clock_ns()
        rows: list[LedgerRow] = []
        for k, instance in enumerate(totals.instances):
            for pid, per_shift in totals.printers.items():
                rows.append(
                    self._row(instance, pid, per_shift[k], None, counts[pid][k], annotation_version, watermark_ns, now)
                )
            for rid, robot_shifts in totals.robots.items():
                fleet = self.robot_fleet[rid]
                rows.append(
                    self._row(
                        instance, rid, robot_shifts[k], fleet, counts[rid][k], annotation_version, watermark_ns, now
                    )
                )
        return rows

    def _row(
        self,
        instance: ShiftInstance,
        equipment: str,
        totals: PrinterTotals | FleetTotals,
        fleet: str | None,
        samples: int,
        annotation_version: int,
        watermark_ns: int,
        now_ns: int,
    ) -> LedgerRow:
        return LedgerRow.for_shift(
            instance,
            equipment,
            totals,
            fleet_id=fleet,
            plant_version=self.version,
            annotation_version=annotation_version,
            watermark_ns=watermark_ns,
            samples_read=samples,
            computed_ns=now_ns,
        )

    def first_data_ns(self, since_ns: int) -> int | None:
        """The first KPI sample at or after ``since_ns`` of any equipment (None: none yet). Shifts before it
        have no data: they need no row to be read and cost nothing to compute."""
        if self._first_data_ns is not None and self._first_data_ns >= since_ns:
            return self._first_data_ns
        found = [
            t
            for t in (
                self.store.first_sample_ns(MEASUREMENT_PRINTER, self.printer_ids, PRINTER_KPI_FIELDS, since_ns),
                self.store.first_sample_ns(MEASUREMENT_ROBOT, list(self.robot_fleet), ROBOT_KPI_FIELDS, since_ns),
            )
            if t is not None
        ]
        first = min(found) if found else None
        if first is not None:
            self._first_data_ns = first
        return first

    # ------------------------------------------------------------------ keeping

    def closed_instances(self, start_ns: int, end_ns: int, now_ns: int) -> list[ShiftInstance]:
        """Shift instances wholly inside [start_ns, end_ns) whose rows are final by now."""
        return [
            i
            for i in shift_instances(self.plant.shift_calendar, self.plant.tz, start_ns, end_ns)
            if i.start_ns >= start_ns and i.end_ns <= end_ns and i.end_ns + self.settle_ns <= now_ns
        ]

    def stale(
        self,
        instances: Sequence[ShiftInstance],
        rows: dict[tuple[int, str], LedgerRow],
        now_ns: int,
        *,
        check_late: bool = True,
    ) -> list[ShiftInstance]:
        """Instances with a row missing, or kept from another plant file, an older correction or (``check_late``,
        shifts of the last LATE_CHECK_DAYS) fewer samples than are stored now."""
        if not instances:
            return []
        due: set[int] = set()
        for k, instance in enumerate(instances):
            if any(
                (r := rows.get((instance.start_ns, e))) is None or r.plant_version != self.version
                for e in self.equipment_ids
            ):
                due.add(k)
        due |= self._corrected(instances, rows)
        if check_late:
            since = now_ns - LATE_CHECK_DAYS * NS_PER_DAY
            for k, instance in enumerate(instances):
                if k not in due and instance.end_ns >= since:
                    kept = [rows[(instance.start_ns, e)] for e in self.equipment_ids]
                    if self._more_samples_now(instance, kept):
                        due.add(k)
        return [instances[k] for k in sorted(due)]

    def _corrected(self, instances: Sequence[ShiftInstance], rows: dict[tuple[int, str], LedgerRow]) -> set[int]:
        """Instances whose printer rows predate a reason override, or an order event (made or withdrawn),
        overlapping what their computation read."""
        versions = [r.annotation_version for r in rows.values()]
        if not versions:
            return set()
        starts = [i.start_ns for i in instances]
        out: set[int] = set()
        oldest = min(versions)
        changes = [
            (o.id, o.equipment, o.start_ns, o.end_ns) for o in self.annotations.overrides_after(oldest)
        ] + self.annotations.order_changes_after(oldest)
        for change_id, equipment, start_ns, end_ns in changes:
            # instances overlapping the override: outside a shift an override changes nothing of it (context
            # samples after its end only close increments; their reason is clipped away)
            first = max(bisect.bisect_right(starts, start_ns - NS_PER_DAY) - 1, 0)
            for k in range(first, len(instances)):
                instance = instances[k]
                if instance.start_ns >= end_ns:
                    break
                if instance.end_ns <= start_ns:
                    continue
                row = rows.get((instance.start_ns, equipment))
                if row is not None and change_id > row.annotation_version:
                    out.add(k)
        return out

    def _more_samples_now(self, instance: ShiftInstance, rows: Sequence[LedgerRow]) -> bool:
        start, end, after = instance.start_ns, instance.end_ns, BOOKED_AFTER_NS
        robots = list(self.robot_fleet)
        counts = self.store.count_samples(MEASUREMENT_PRINTER, self.printer_ids, PRINTER_KPI_FIELDS, start, end)
        state = self.store.count_samples(MEASUREMENT_ROBOT, robots, ("state",), start, end)
        counters = self.store.count_samples(MEASUREMENT_ROBOT, robots, ROBOT_COUNTER_FIELDS, start + after, end + after)
        for robot in robots:
            counts[robot] = state.get(robot, 0) + counters.get(robot, 0)
        return any(counts.get(r.equipment_id, 0) != r.samples_read for r in rows)

    def refresh(self, instances: Sequence[ShiftInstance], progress: Callable[[int], None] | None = None) -> int:
        """Compute and write the rows of ``instances`` (closed), a chunk of consecutive shifts at a time."""
        written = 0
        for chunk in _chunks(sorted(instances, key=lambda i: i.start_ns)):
            annotation_version = self.annotations.last_change_id()  # before reading: a later one re-stales
            totals, counts = self.compute(chunk[0].start_ns, chunk[-1].end_ns)
            wanted = {i.start_ns for i in chunk}
            keep = [k for k, i in enumerate(totals.instances) if i.start_ns in wanted]
            picked = EquipmentTotals(
                tuple(totals.instances[k] for k in keep),
                {p: [t[k] for k in keep] for p, t in totals.printers.items()},
                {r: [t[k] for k in keep] for r, t in totals.robots.items()},
                {},
            )
            picked_counts = {e: [c[k] for k in keep] for e, c in counts.items()}
            self.store.write_ledger(self.rows_of(picked, picked_counts, annotation_version, chunk[-1].end_ns))
            written += len(chunk)
            if progress is not None:
                progress(len(chunk))
        return written

    def catch_up(self, since_ns: int, now_ns: int | None = None, max_shifts: int | None = None) -> int:
        """Write every missing or stale row of the closed shifts since ``since_ns``; returns shifts written."""
        now = self.clock_ns() if now_ns is None else now_ns
        first = self.first_data_ns(since_ns)
        if first is None:
            return 0  # no data yet: nothing to keep
        # from the shift the first sample falls in (rows of earlier, empty shifts would only take room)
        since_ns = max(since_ns, first - NS_PER_DAY)
        instances = self.closed_instances(since_ns, now, now)
        if not instances:
            return 0
        rows = {r.key: r for r in self.store.read_ledger(instances[0].start_ns, instances[-1].end_ns)}
        due = self.stale(instances, rows, now)
        if max_shifts is not None:
            due = due[:max_shifts]
        return self.refresh(due) if due else 0


@dataclass(frozen=True, slots=True)
class ReportBasis:
    """What a report rests on: shifts from the ledger, shifts (or parts) computed from raw samples, and the
    ledger rows it used although they were computed with another plant file (``shopfloor ledger rebuild``)."""

    ledger_shifts: int
    raw_shifts: int
    stale_shift_keys: tuple[str, ...]
    # Equipment without a row in some shift whose raw samples are gone (added to the plant file after it, say):
    # no data there, rather than no report.
    unrecorded_equipment: tuple[str, ...] = ()


# A report may compute at most this much raw history itself; more means the ledger is still being built.
MAX_RAW_NS = 31 * NS_PER_DAY


def compose(ledger: Ledger, start_ns: int, end_ns: int, now_ns: int) -> tuple[EquipmentTotals, ReportBasis]:
    """Per-shift totals of [start_ns, end_ns): closed shifts from the ledger, the rest from raw samples.

    Rows an operator's correction has made stale are recomputed here (the next request shows a correction);
    rows of another plant file are used and named in the basis. Raises LedgerIncomplete when more than
    MAX_RAW_NS would have to come from raw samples (stretches that hold no samples do not count: _sampled_ns),
    RawSamplesExpired when some of it lies before the raw samples kept (api/raw_window.py).
    """
    instances = shift_instances(ledger.plant.shift_calendar, ledger.plant.tz, start_ns, end_ns)
    closed = ledger.closed_instances(start_ns, end_ns, now_ns)
    rows: dict[tuple[int, str], LedgerRow] = {}
    if closed:
        rows = {r.key: r for r in ledger.store.read_ledger(closed[0].start_ns, closed[-1].end_ns)}
    corrected = {closed[k].start_ns for k in ledger._corrected(closed, rows)}
    kept_ns = ledger.store.raw_kept_since_ns(now_ns)
    with_rows = {k[0] for k in rows}
    # A shift with rows of some equipment whose raw samples are gone: what has no row can never be computed.
    gone = {i.start_ns for i in closed if kept_ns is not None and i.end_ns <= kept_ns and i.start_ns in with_rows}
    usable = {
        i.start_ns
        for i in closed
        if i.start_ns not in corrected
        and (i.start_ns in gone or all((i.start_ns, e) in rows for e in ledger.equipment_ids))
    }
    unrecorded = sorted({e for t in gone & usable for e in ledger.equipment_ids if (t, e) not in rows})
    no_data = _no_data_totals(ledger, [i for i in closed if i.start_ns in gone]) if unrecorded else {}
    stale_keys = tuple(
        i.key
        for i in closed
        if i.start_ns in usable
        and any(
            rows[(i.start_ns, e)].plant_version != ledger.version
            for e in ledger.equipment_ids
            if (i.start_ns, e) in rows
        )
    )
    pieces = raw_pieces(instances, usable, start_ns, end_ns)
    # Before the ledger's first row the plant was not monitored: nothing was kept there, nothing was dropped.
    monitored_ns = min((key[0] for key in rows), default=None)
    for a, b in pieces:
        if kept_ns is not None and a < kept_ns and (monitored_ns is None or b > monitored_ns):
            raise expired(
                ledger.plant,
                "this report",
                a,
                kept_ns,
                "before it, reports are summed from the ledger's whole shifts: start and end the range at shift"
                " boundaries (shift=, or a start and end at shifts' starts)",
            )
    raw_ns = sum(_sampled_ns(ledger, a, b) for a, b in pieces)
    if raw_ns > MAX_RAW_NS:
        raise LedgerIncomplete(
            f"the ledger holds {len(usable)} of the {len(closed)} closed shifts of this range; the rest"
            f" ({raw_ns / NS_PER_DAY:.0f} days) is more than a request computes from raw samples"
            f" ({MAX_RAW_NS // NS_PER_DAY} days): the ledger is still being built, ask again later"
            " or run `shopfloor ledger rebuild`"
        )
    computed: dict[int, tuple[dict[str, PrinterTotals], dict[str, FleetTotals]]] = {}
    raw_shifts = 0
    for a, b in pieces:
        totals, _ = ledger.compute(a, b)
        for k, i in enumerate(totals.instances):
            computed[i.start_ns] = (
                {p: t[k] for p, t in totals.printers.items()},
                {r: t[k] for r, t in totals.robots.items()},
            )
            raw_shifts += 1
    printers: dict[str, list[PrinterTotals]] = {p: [] for p in ledger.printer_ids}
    robots: dict[str, list[FleetTotals]] = {r: [] for r in ledger.robot_fleet}
    for i in instances:
        if i.start_ns in usable:
            for p in printers:
                printer_row = rows[(i.start_ns, p)].totals if (i.start_ns, p) in rows else no_data[(i.start_ns, p)]
                assert isinstance(printer_row, PrinterTotals)  # the row's kind says so (models/ledger.py)
                printers[p].append(printer_row)
            for r in robots:
                robot_row = rows[(i.start_ns, r)].totals if (i.start_ns, r) in rows else no_data[(i.start_ns, r)]
                assert isinstance(robot_row, FleetTotals)
                robots[r].append(robot_row)
        else:
            p_part, r_part = computed[i.start_ns]
            for p in printers:
                printers[p].append(p_part[p])
            for r in robots:
                robots[r].append(r_part[r])
    basis = ReportBasis(len(usable), raw_shifts, stale_keys, tuple(unrecorded))
    return EquipmentTotals(tuple(instances), printers, robots, {}), basis


def raw_pieces(
    instances: Sequence[ShiftInstance], usable: Collection[int], start_ns: int, end_ns: int
) -> list[tuple[int, int]]:
    """The stretches of [start_ns, end_ns) that no usable ledger row covers (``usable``: shift starts), in order:
    what a report computes from raw samples."""
    pieces: list[tuple[int, int]] = []
    cursor = start_ns
    for i in instances:
        if i.start_ns in usable:
            if i.start_ns > cursor:
                pieces.append((cursor, i.start_ns))
            cursor = i.end_ns
    if cursor < end_ns:
        pieces.append((cursor, end_ns))
    return pieces


def _no_data_totals(
    ledger: Ledger, instances: Sequence[ShiftInstance]
) -> dict[tuple[int, str], PrinterTotals | FleetTotals]:
    """Per (shift start, equipment): the totals of a shift without a single sample (all of it no data)."""
    out: dict[tuple[int, str], PrinterTotals | FleetTotals] = {}
    for i in instances:
        t = equipment_totals(ledger.plant, i.start_ns, i.end_ns, {}, (), ledger.config, throughput_period_s=None)
        out.update({(i.start_ns, e): per_shift[0] for e, per_shift in t.printers.items()})
        out.update({(i.start_ns, e): per_shift[0] for e, per_shift in t.robots.items()})
    return out


def _sampled_ns(ledger: Ledger, start_ns: int, end_ns: int) -> int:
    """How much of a raw piece counts against MAX_RAW_NS: its stretches (of at most MAX_RAW_NS each) that hold
    samples. Time before the plant was monitored holds none and is computed in a moment; without this a year's
    report of a plant monitored since October would be refused as "still being built", and stay refused."""

    def sampled(a: int, b: int) -> bool:
        printers = ledger.store.count_samples(MEASUREMENT_PRINTER, ledger.printer_ids, PRINTER_KPI_FIELDS, a, b)
        robots = ledger.store.count_samples(MEASUREMENT_ROBOT, list(ledger.robot_fleet), ROBOT_KPI_FIELDS, a, b)
        return any(printers.values()) or any(robots.values())

    if not sampled(start_ns, end_ns):
        return 0
    if end_ns - start_ns <= MAX_RAW_NS:
        return end_ns - start_ns
    edges = [*range(start_ns, end_ns, MAX_RAW_NS), end_ns]
    return sum(b - a for a, b in itertools.pairwise(edges) if sampled(a, b))


def _chunks(instances: Sequence[ShiftInstance]) -> Iterator[list[ShiftInstance]]:
    """Runs of back-to-back instances, each at most CHUNK_NS long."""
    run: list[ShiftInstance] = []
    for i in instances:
        if run and (i.start_ns != run[-1].end_ns or i.end_ns - run[0].start_ns > CHUNK_NS):
            yield run
            run = []
        run.append(i)
    if run:
        yield run


# How often the serving process looks for closed or stale shifts (wall time; each pass is a few small queries).
KEEP_EVERY_S = 15.0
# Shifts a pass writes at most, so a first start over months of samples never holds the thread for long.
SHIFTS_PER_PASS = 30


async def keep_ledger(ledger: Ledger, every_s: float = KEEP_EVERY_S) -> None:
    """Keep the ledger of the raw retention window up to date until cancelled; one log line per stretch of
    failures (a store outage), one when it ends."""
    failing = False
    while True:
        if ledger.store.health().error() is not None:
            # A full disk or a damaged file: the store says so once per stretch, and a ledger row written now
            # would only fail the same way (a second line for one cause). Rows wait for the store to recover.
            await asyncio.sleep(every_s)
            continue
        try:
            now = ledger.clock_ns()
            since = now - ledger.plant.storage.raw_retention_days * NS_PER_DAY
            while True:
                written = await asyncio.to_thread(ledger.catch_up, since, now, SHIFTS_PER_PASS)
                if written:
                    log.info("ledger: %d shift(s) written", written)
                if written < SHIFTS_PER_PASS:
                    break
            if failing:
                log.info("ledger: writing again")
                failing = False
        except StoreUnavailable as exc:
            # the store says so itself, once per stretch (a full disk, a damaged file): no second line here
            log.debug("ledger: store unavailable: %s", exc)
        except StoreError as exc:
            if not failing:
                log.warning("ledger: cannot keep the ledger now (%s); retrying every %.0f s", exc, every_s)
                failing = True
        await asyncio.sleep(every_s)
