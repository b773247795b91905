"""The vectorised KPI core: numpy arrays in, small frozen dataclasses out, no I/O.

Read docs/kpi.md for every rule (gaps, wraps, the ISO 22400 time table,
micro-stops, fleet availability, team scores). ``reference`` holds the
plain-Python twins used only by tests and the benchmark.
"""

from shopfloor.models.kpi.counters import Increments, Throughput, bucket_sum, increments, throughput
from shopfloor.models.kpi.energy import EnergyKpis, energy_kpis
from shopfloor.models.kpi.fleet import FleetKpis, FleetTotals, fleet_kpis, responses
from shopfloor.models.kpi.intervals import NO_DATA, Intervals, Runs, runs, state_intervals
from shopfloor.models.kpi.oee import OeeResult, TimeTotals, oee_result
from shopfloor.models.kpi.outages import outage_spans
from shopfloor.models.kpi.pipeline import (
    KpiConfig,
    printer_shift_totals,
    printer_stop_events,
    printer_throughput,
    robot_shift_totals,
)
from shopfloor.models.kpi.printer import PrinterKpis, PrinterTotals, printer_kpis
from shopfloor.models.kpi.report import KpiReport, build_report
from shopfloor.models.kpi.time_model import Element, classify

__all__ = [
    "NO_DATA",
    "Element",
    "EnergyKpis",
    "FleetKpis",
    "FleetTotals",
    "Increments",
    "Intervals",
    "KpiConfig",
    "KpiReport",
    "OeeResult",
    "PrinterKpis",
    "PrinterTotals",
    "Runs",
    "Throughput",
    "TimeTotals",
    "bucket_sum",
    "build_report",
    "classify",
    "energy_kpis",
    "fleet_kpis",
    "increments",
    "oee_result",
    "outage_spans",
    "printer_kpis",
    "printer_shift_totals",
    "printer_stop_events",
    "printer_throughput",
    "responses",
    "robot_shift_totals",
    "runs",
    "state_intervals",
    "throughput",
]
