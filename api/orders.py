"""Print orders of a printer in a time range, each with its report, from raw samples read in context.

Which order ran when comes from the ``order_number``/``design_code`` readings (models/kpi/orders.py); each
order's report is the KPI core run over the order's span, cut to the range asked, exactly as a shift's is: the
same reading in context, operator reason overrides, connectivity outages, designs' ideal speeds and the
changeover rule (docs/kpi.md, "Orders"). Orders span shifts, so these figures are not in the ledger: they need
the raw samples, and a range older than the raw retention is answered 410 (api/raw_window.py).
"""

from __future__ import annotations

from functools import reduce
from typing import Any

from shopfloor.api.ledger import PRINTER_KPI_FIELDS, read_inputs
from shopfloor.api.presenters import design_json, plan_json, printer_json
from shopfloor.api.timerange import iso
from shopfloor.models.calendar import shift_instances
from shopfloor.models.kpi import KpiConfig, outage_spans
from shopfloor.models.kpi.context import OPEN_END_NS, fields_with_context
from shopfloor.models.kpi.orders import OrderSpan, order_spans, order_steps
from shopfloor.models.kpi.pipeline import printer_shift_totals
from shopfloor.models.kpi.printer import PrinterTotals, printer_kpis
from shopfloor.models.plant import Plant
from shopfloor.store.annotations import AnnotationStore
from shopfloor.store.base import SampleStore

MAX_ORDERS = 200  # per response: a line runs a handful of orders a shift; more means the range is too wide


def printer_orders(
    plant: Plant,
    store: SampleStore,
    annotations: AnnotationStore,
    printer_id: str,
    start_ns: int,
    end_ns: int,
    *,
    config: KpiConfig,
    order_number: int | None = None,
) -> list[dict[str, Any]]:
    """The orders that ran on ``printer_id`` in [start_ns, end_ns) (only ``order_number`` if given), in time
    order, each with its KPIs over its span inside the range. ``config`` is the app's (``KpiService.config``)."""
    printer = plant.printer(printer_id)
    one_line = plant.model_copy(update={"printers": [printer], "fleets": []})
    inputs = read_inputs(one_line, store, annotations, start_ns, end_ns, config, PRINTER_KPI_FIELDS, ())
    fields = inputs.series.get(printer_id, {})
    steps = order_steps(fields)
    spans = order_spans(steps, start_ns, end_ns)
    if order_number is not None:
        spans = [s for s in spans if s.order_number == order_number]
    last_change_ns = int(steps.ts_ns[-1]) if len(steps.ts_ns) else None
    plan = annotations.planned_orders(printer_id, [s.order_number for s in spans[:MAX_ORDERS]])
    out = []
    for span in spans[:MAX_ORDERS]:
        # Each span read as its own range would be: its fields cut with context, so a span ending at a shift's end
        # gives what the shift computed alone gives.
        cut = fields_with_context(fields, span.start_ns, span.end_ns)
        outages = outage_spans(inputs.events, printer_id, span.start_ns, OPEN_END_NS)
        inst = shift_instances(plant.shift_calendar, plant.tz, span.start_ns, span.end_ns)
        slots = printer_shift_totals(
            printer, plant.stop_reasons, cut, span.start_ns, span.end_ns, inst, outages, config, plant.designs
        )
        # Every slot, the one outside every shift too: metres printed then belong to the order (they have no
        # planned busy time, so they count in its metres and energy, not in its availability).
        total = reduce(PrinterTotals.__add__, slots, PrinterTotals())
        report = _order_json(plant, printer_id, span, total, ongoing=span.start_ns >= (last_change_ns or 0))
        planned = plan.get(span.order_number)
        report.update(plan_json(planned))
        out.append(report)
    _remaining_over_all_spans(out)
    return out


def _remaining_over_all_spans(reports: list[dict[str, Any]]) -> None:
    """Each report's ``remaining_m``: metres ordered less what the order printed over all its spans in the range
    (one order number is one order: resumed after another order, or cut by a shift, it is still the same job)."""
    done_m: dict[int, float] = {}
    for r in reports:
        done_m[r["order_number"]] = done_m.get(r["order_number"], 0.0) + r["kpis"]["printed_m"]
    for r in reports:
        ordered = r["metres_ordered"]
        r["remaining_m"] = None if ordered is None else max(0.0, ordered - done_m[r["order_number"]])


def _order_json(plant: Plant, printer_id: str, span: OrderSpan, total: PrinterTotals, ongoing: bool) -> dict[str, Any]:
    design = plant.design(span.design_code)
    return {
        "equipment": printer_id,
        "order_number": span.order_number,
        "design_code": span.design_code,
        "design": design_json(plant, span.design_code),
        "ideal_speed_m_min": design.ideal_speed_m_min if design else plant.printer(printer_id).ideal_speed_m_min,
        "start": iso(plant, span.start_ns),
        "end": iso(plant, span.end_ns),
        "start_ns": span.start_ns,
        "end_ns": span.end_ns,
        "ongoing": ongoing,  # no reading read after it shows another order: it may still be running
        "kpis": printer_json(plant, printer_kpis(total, plant.baseline, plant.stop_reasons)),
    }
