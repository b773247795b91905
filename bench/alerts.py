"""``python -m bench.alerts``: what evaluating the andon rules costs, next to what a sample already costs.

The alert service evaluates every rule against every equipment after each
write to the live hub (docs/alerts.md). For the default plant (1 printer, 12
robots) and the large one of ``bench.ledger`` (4 printers, 100 robots), with
one sample of every field of every equipment in the hub, this measures the
median of:

* the baseline: ``LiveHub.write`` of one printer poll (what each poll costs
  the API process already);
* one evaluation: the hub's facts copied (``view_of``), ``conditions`` and
  ``AlertBook.update``, with a healthy plant (lines running, robots idle and
  charged: what holds most of the time), and for information with every rule
  holding for every equipment (every line broken down, every robot in fault).

Hourly attainment rules read the closed hour the hourly watch holds (one
board read per closed hour, in a worker thread, not timed here: between closed
hours the watch costs one comparison per evaluation); the view carries one
closed hour per printer, on target or, with every rule holding, far below it.

It reports the ratio of the two and the share of one core spent evaluating at
the rate hub writes arrive (each printer once per poll interval, each fleet
once per publishing interval, plus the service's own 0.5 s tick).
Target: under 1 % of a core for the large plant.
"""

from __future__ import annotations

import argparse
import time

from bench._timing import median_s, time_line
from bench.ledger import bench_plant
from shopfloor.api.alerts import TICK_S, view_of
from shopfloor.api.live import LiveHub
from shopfloor.models.alerts import AlertBook, ClosedHour, conditions
from shopfloor.models.contract import MEASUREMENT_PRINTER, MEASUREMENT_ROBOT, PRINTER_FIELDS, ROBOT_FIELD_NAMES
from shopfloor.models.plant import Plant
from shopfloor.models.samples import SampleBatch
from shopfloor.models.states import Quality

TARGET_CORE_PCT = 1.0


# The fields the rules read: lines running and robots idle and charged, or every line in fault with a
# breakdown reason and every robot in fault, with an error code and a flat battery (every rule holds).
HEALTHY = {"state": 3.0, "stop_reason": 0.0, "error_code": 0.0, "soc_pct": 80.0, "robot_state": 0.0}
IN_ALARM = {"state": 6.0, "stop_reason": 20.0, "error_code": 17.0, "soc_pct": 5.0, "robot_state": 7.0}


def filled_hub(plant: Plant, now_ns: int, values: dict[str, float]) -> LiveHub:
    """A hub holding one sample of every field of every equipment; ``values`` sets the fields rules read."""
    hub = LiveHub(plant, clock_ns=lambda: now_ns)
    for p in plant.printers:
        rows = [(now_ns, p.id, f.name, values.get(f.name, 1.0), Quality.GOOD, "") for f in PRINTER_FIELDS]
        hub.write(SampleBatch.from_rows(MEASUREMENT_PRINTER, rows))
    robot_state = values["robot_state"]
    for fleet in plant.fleets:
        rows = [
            (now_ns, r.id, name, robot_state if name == "state" else values.get(name, 1.0), Quality.GOOD, "")
            for r in fleet.robots
            for name in sorted(ROBOT_FIELD_NAMES)
        ]
        hub.write(SampleBatch.from_rows(MEASUREMENT_ROBOT, rows, fleet=fleet.id))
    return hub


def closed_hours(plant: Plant, now_ns: int, attainment_pct: float) -> dict[str, ClosedHour]:
    hour_ns = 3600 * 1_000_000_000
    target_m = 6000.0
    actual_m = target_m * attainment_pct / 100
    return {p.id: ClosedHour(now_ns - hour_ns, now_ns, target_m, actual_m, attainment_pct) for p in plant.printers}


def measure(kind: str, repeats: int) -> bool:
    plant = bench_plant(kind)
    now = time.time_ns()
    hub = filled_hub(plant, now, HEALTHY)
    printer = plant.printers[0]
    poll = SampleBatch.from_rows(
        MEASUREMENT_PRINTER, [(now, printer.id, f.name, 2.0, Quality.GOOD, "") for f in PRINTER_FIELDS]
    )
    book = AlertBook()
    baseline = median_s(lambda: hub.write(poll), repeats=repeats)
    on_target, missed = closed_hours(plant, now, 100.0), closed_hours(plant, now, 10.0)
    evaluation = median_s(lambda: book.update(conditions(plant, view_of(hub, on_target), now), now), repeats=repeats)
    alarm = filled_hub(plant, now, IN_ALARM)
    worst = median_s(lambda: book.update(conditions(plant, view_of(alarm, missed), now), now), repeats=repeats)
    writes_per_s = sum(1 / p.modbus.poll_interval_s for p in plant.printers)
    writes_per_s += sum(1000 / f.opcua.publishing_interval_ms for f in plant.fleets) + 1 / TICK_S
    core_pct = 100 * evaluation * writes_per_s
    equipment = len(plant.printers) + sum(len(f.robots) for f in plant.fleets)
    print(f"-- {kind} plant: {equipment} equipment, {len(plant.alerts.rules)} rules, {writes_per_s:g} evaluations/s")
    print(time_line("hub.write of one printer poll (baseline)", baseline))
    print(time_line("one evaluation (facts, conditions, book)", evaluation))
    print(time_line("... with every rule holding everywhere", worst))
    print(f"{'evaluation / baseline':<44} {evaluation / baseline:>10.1f}x")
    met = core_pct < TARGET_CORE_PCT
    print(
        f"{'share of one core evaluating':<44} {core_pct:>10.2f} %   target < {TARGET_CORE_PCT:g} %  "
        f"{'met' if met else 'NOT met'}"
    )
    return met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=201, help="timed runs per figure (median reported)")
    args = parser.parse_args(argv)
    results = [measure(kind, args.repeats) for kind in ("default", "large")]
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
