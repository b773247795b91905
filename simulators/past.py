"""The plant's past at full speed: the simulators' process models stepped as fast as the CPU allows.

The printer and the fleet are the models the simulators serve live
(``printer/process.py``, ``fleet/process.py``), driven by the same plant
file; here nothing waits for a clock and nothing goes over a socket. What
comes out is what the plant's collectors would have stored:

* each printer polled every ``poll_interval_s`` of its Modbus endpoint, or
  every step of its model where that is rarer than a poll but the KPI gap
  rule still sees consecutive reads (the polls in between would read the
  same registers): every signal of its register map the model computes, as
  the registers carry it (rounded to their resolution, metres in tenths and
  energy in Wh; counters wrapping at the type's width; a value outside the
  map's min/max left out, as the collector marks it bad);
* each robot reported by exception, as an OPC UA subscription does: a
  sample of a variable when its value changes, every variable at the start.

How finely the models are stepped is a ``Resolution``: ``FINE`` steps the
printer as its simulator does (1 s) and the fleet every 5 s (twelve robots
at 1 s cost about 2 s per simulated day on one core; 5 s moves a transition
by at most 5 s, which response times of minutes and a day's state times
hardly notice); ``COARSE`` steps both every 10 s, for a past kept only as
ledger rows.

Pure: no I/O, no wall clock. The same plant, seed and start give the same
samples, however the span is cut into ``advance`` calls.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from shopfloor.models.contract import MEASUREMENT_PRINTER, MEASUREMENT_ROBOT
from shopfloor.models.plant import ModbusSignal, Plant, Printer
from shopfloor.models.registers import FLOAT_TYPES, DataType, integer_bits, integer_range
from shopfloor.models.samples import SampleBatch, Series
from shopfloor.models.timebase import NS_PER_S
from shopfloor.simulators.fleet.process import FleetProcess
from shopfloor.simulators.printer.process import MODEL_SIGNALS, PrinterProcess


def printer_sample_period_ns(printer: Printer, step_s: float, max_gap_polls: float) -> int:
    """How often the past's printer samples come: every poll, or every model step where that is rarer than a
    poll but still within the gap rule (then the polls in between would repeat the step's values)."""
    poll_ns = round(printer.modbus.poll_interval_s * NS_PER_S)
    step_ns = round(step_s * NS_PER_S)
    if poll_ns >= step_ns or step_ns > max_gap_polls * poll_ns:
        return poll_ns
    return step_ns


def as_collected(signal: ModbusSignal, values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Engineering values as the collector decodes them from this signal's registers (``models.registers``):
    rounded to the register's resolution, counters wrapped at the type's width, other integers clamped."""
    if signal.type is DataType.BOOL:
        return (values != 0).astype(np.float64)
    raw = (values - signal.offset) / signal.scale
    if signal.type in FLOAT_TYPES:
        if signal.type is DataType.FLOAT32:
            raw = raw.astype(np.float32).astype(np.float64)
        return raw * signal.scale + signal.offset
    rounded = np.round(raw)
    low, high = integer_range(signal.type)
    if signal.counter:
        span = float(1 << integer_bits(signal.type))
        rounded = np.mod(rounded, span)
        if low < 0:
            rounded = np.where(rounded > high, rounded - span, rounded)
    else:
        rounded = np.clip(rounded, low, high)
    return rounded * signal.scale + signal.offset


@dataclass(frozen=True, slots=True)
class Recorded:
    """What the collectors would have stored in ``[start_ns, end_ns)``: per equipment id, per field, the
    samples (time-ordered, one per timestamp)."""

    start_ns: int
    end_ns: int
    printers: dict[str, dict[str, Series]]
    robots: dict[str, dict[str, Series]]
    fleet_of: dict[str, str]  # robot id -> fleet id

    @property
    def series(self) -> dict[str, dict[str, Series]]:
        return {**self.printers, **self.robots}

    @property
    def samples(self) -> int:
        return sum(len(s.ts_ns) for fields in self.series.values() for s in fields.values())

    def only(self, fields: Sequence[str], *, printers: bool) -> Recorded:
        """The printers' (or the robots') given fields: what a computation reading only those needs."""
        group = self.printers if printers else self.robots
        kept = {e: {f: s for f, s in have.items() if f in fields} for e, have in group.items()}
        return Recorded(
            self.start_ns,
            self.end_ns,
            kept if printers else {},
            {} if printers else kept,
            {} if printers else dict(self.fleet_of),
        )

    def batches(self) -> list[SampleBatch]:
        """The samples as store batches, one per equipment (``SampleStore.write``: the collectors' path)."""
        out: list[SampleBatch] = []
        for measurement, group in ((MEASUREMENT_PRINTER, self.printers), (MEASUREMENT_ROBOT, self.robots)):
            for equipment, fields in group.items():
                batch = _batch(measurement, equipment, fields, self.fleet_of.get(equipment, ""))
                if len(batch):
                    out.append(batch)
        return out


def _batch(measurement: str, equipment: str, fields: dict[str, Series], fleet: str) -> SampleBatch:
    names = [name for name, s in fields.items() if len(s.ts_ns)]
    lengths = [len(fields[name].ts_ns) for name in names]
    n = sum(lengths)
    ts = np.concatenate([fields[name].ts_ns for name in names]) if names else np.empty(0, np.int64)
    value = np.concatenate([fields[name].value for name in names]) if names else np.empty(0)
    equipment_col = np.empty(n, dtype=object)
    equipment_col.fill(equipment)
    field_col = np.repeat(np.array(names, dtype=object), lengths)
    detail = np.empty(n, dtype=object)
    detail.fill("")
    return SampleBatch(
        measurement,
        ts.astype(np.int64, copy=False),
        equipment_col,
        field_col,
        value.astype(np.float64, copy=False),
        np.zeros(n, dtype=np.uint8),
        detail,
        fleet,
    )


class _PrinterRecorder:
    """One printer's model, polled on a fixed grid."""

    def __init__(
        self, plant: Plant, printer: Printer, seed: int, start_ns: int, step_s: float, max_gap_polls: float
    ) -> None:
        self.printer = printer
        self.model = PrinterProcess(plant, printer.id, seed=seed, start_ns=start_ns, step_s=step_s)
        # Every signal of the map the model computes (the simulator serves any other as 0, nothing to keep).
        self.signals = [s for s in printer.signals if s.name in MODEL_SIGNALS]
        self.columns = {name: k for k, name in enumerate(self.model.values())}  # values() keeps its key order
        self.period_ns = printer_sample_period_ns(printer, step_s, max_gap_polls)
        self.next_sample_ns = start_ns
        self.carry: tuple[int, list[float]] | None = None  # the last step recorded by the previous call

    def advance(self, until_ns: int) -> dict[str, Series]:
        model = self.model
        step_ts: list[int] = []
        rows: list[list[float]] = []
        if self.carry is not None:
            step_ts.append(self.carry[0])
            rows.append(self.carry[1])
        # The values after a step hold until the next one (the simulator serves them so).
        while model.now_ns < until_ns:
            step_ts.append(model.now_ns)
            rows.append(list(model.values().values()))
            model.step()
        self.carry = (step_ts[-1], rows[-1]) if rows else None
        first = self.next_sample_ns
        count = max(0, math.ceil((until_ns - first) / self.period_ns))
        self.next_sample_ns = first + self.period_ns * count
        if not rows or not count:
            return {s.name: Series(np.empty(0, np.int64), np.empty(0)) for s in self.signals}
        ts_steps = np.array(step_ts, dtype=np.int64)
        table = np.array(rows, dtype=np.float64).reshape(len(rows), len(self.columns))
        ts = first + self.period_ns * np.arange(count, dtype=np.int64)
        at = table[np.searchsorted(ts_steps, ts, side="right") - 1]
        out: dict[str, Series] = {}
        for signal in self.signals:
            value = as_collected(signal, at[:, self.columns[signal.name]])
            keep = np.ones(len(value), dtype=bool)
            if signal.min is not None:
                keep &= value >= signal.min
            if signal.max is not None:
                keep &= value <= signal.max
            out[signal.name] = Series(ts[keep], value[keep])
        return out


class _FleetRecorder:
    """One fleet's model; each robot's variables reported when they change."""

    def __init__(self, plant: Plant, fleet_id: str, seed: int, start_ns: int, step_s: float) -> None:
        self.model = FleetProcess(plant, fleet_id, seed=seed, start_ns=start_ns, step_s=step_s)
        self.fleet = self.model.fleet
        self.names = [v.name for v in self.fleet.variables]
        keys = list(self.model.robots[0].values()) if self.model.robots else []
        self.columns = [keys.index(name) for name in self.names]
        self.last: npt.NDArray[np.float64] | None = None  # the values at the last step recorded (1 x robots·keys)

    def advance(self, until_ns: int) -> dict[str, dict[str, Series]]:
        model = self.model
        robots = model.robots
        step_ts: list[int] = []
        rows: list[list[float]] = []
        while model.now_ns < until_ns:
            step_ts.append(model.now_ns)
            row: list[float] = []
            for robot in robots:
                row.extend(robot.values().values())
            rows.append(row)
            model.step()
        if not rows:
            empty = Series(np.empty(0, np.int64), np.empty(0))
            return {robot.robot_id: dict.fromkeys(self.names, empty) for robot in robots}
        width = len(rows[0]) // len(robots)
        ts = np.array(step_ts, dtype=np.int64)
        table = np.array(rows, dtype=np.float64).reshape(len(rows), len(robots) * width)
        # Reported by exception: a value is a sample where it differs from the one before (all at the start).
        before = np.vstack([self.last if self.last is not None else np.full((1, table.shape[1]), np.nan), table[:-1]])
        changed = table != before
        self.last = table[-1:].copy()
        out: dict[str, dict[str, Series]] = {}
        for i, robot in enumerate(robots):
            fields: dict[str, Series] = {}
            for name, k in zip(self.names, self.columns, strict=True):
                column = i * width + k
                mask = changed[:, column]
                fields[name] = Series(ts[mask], table[mask, column])
            out[robot.robot_id] = fields
        return out


@dataclass(frozen=True, slots=True)
class Resolution:
    """The models' steps: finer is closer to the live simulators, coarser is faster."""

    printer_step_s: float
    fleet_step_s: float


# As the live simulators run the printer; the fleet as the module's docstring says. For samples kept in the store.
FINE = Resolution(printer_step_s=1.0, fleet_step_s=5.0)
# For a past kept only as ledger rows: about five times faster. Decisions fall on 10 s boundaries (a stop starts
# up to 10 s late, none is shorter than 10 s); the printer is then read every 10 s, and the KPI core's gap rule
# must be told (``coarse_max_gap_polls``) or every step would be a gap.
COARSE = Resolution(printer_step_s=10.0, fleet_step_s=10.0)


def coarse_max_gap_polls(plant: Plant, max_gap_polls: float, step_s: float) -> float:
    """The KPI core's ``max_gap_polls`` for printers read every ``step_s``: the same number of missed reads
    makes a gap as for the plant's own polls."""
    polls = [p.modbus.poll_interval_s for p in plant.printers]
    if not polls:
        return max_gap_polls
    return max_gap_polls * max(1.0, step_s / min(polls))


class PastPlant:
    """Every printer and fleet of a plant, simulated from ``start_ns``; each ``advance(until_ns)`` steps the
    models on and returns what the collectors would have stored since the previous call."""

    def __init__(
        self, plant: Plant, start_ns: int, *, seed: int, max_gap_polls: float, resolution: Resolution = FINE
    ) -> None:
        self.plant = plant
        self.now_ns = start_ns
        self.resolution = resolution
        # One seed per model, derived from the given one: printers and fleets draw independent streams.
        self._printers = [
            _PrinterRecorder(plant, p, _derived_seed(seed, k), start_ns, resolution.printer_step_s, max_gap_polls)
            for k, p in enumerate(plant.printers)
        ]
        self._fleets = [_FleetRecorder(plant, f.id, seed, start_ns, resolution.fleet_step_s) for f in plant.fleets]

    def printer_model(self, printer_id: str) -> PrinterProcess:
        """The process model behind a printer's samples (its ``truth`` is what really happened)."""
        for recorder in self._printers:
            if recorder.printer.id == printer_id:
                return recorder.model
        raise KeyError(f"no printer {printer_id!r}; the plant has {', '.join(r.printer.id for r in self._printers)}")

    def fleet_model(self, fleet_id: str) -> FleetProcess:
        for recorder in self._fleets:
            if recorder.fleet.id == fleet_id:
                return recorder.model
        raise KeyError(f"no fleet {fleet_id!r}; the plant has {', '.join(r.fleet.id for r in self._fleets)}")

    def advance(self, until_ns: int) -> Recorded:
        if until_ns < self.now_ns:
            raise ValueError(f"advance to {until_ns}: the past is simulated up to {self.now_ns} already")
        printers = {r.printer.id: r.advance(until_ns) for r in self._printers}
        robots: dict[str, dict[str, Series]] = {}
        fleet_of: dict[str, str] = {}
        for recorder in self._fleets:
            for robot_id, fields in recorder.advance(until_ns).items():
                robots[robot_id] = fields
                fleet_of[robot_id] = recorder.fleet.id
        recorded = Recorded(self.now_ns, until_ns, printers, robots, fleet_of)
        self.now_ns = until_ns
        return recorded


def _derived_seed(seed: int, index: int) -> int:
    # The printer model seeds random.Random with an int; distinct printers get distinct streams.
    return seed * 1_000 + index


class RecordingWindow:
    """Consecutive recordings of one ``PastPlant``, kept from some time on, with each field's last sample before
    it: what a store read in context of any range from there on returns (docs/kpi.md, "Context"), without
    keeping days of samples in memory."""

    def __init__(self) -> None:
        self._parts: list[Recorded] = []
        self._before: dict[str, dict[str, Series]] = {}  # per equipment and field: its last sample, or none

    @property
    def end_ns(self) -> int | None:
        return self._parts[-1].end_ns if self._parts else None

    def add(self, recorded: Recorded) -> None:
        if self._parts and recorded.start_ns != self._parts[-1].end_ns:
            raise ValueError(
                f"recordings must be consecutive: the window ends at {self._parts[-1].end_ns},"
                f" the next starts at {recorded.start_ns}"
            )
        self._parts.append(recorded)

    def forget_before(self, t_ns: int) -> None:
        """Drop the recordings that end by ``t_ns``, keeping only each field's last sample of them."""
        while self._parts and self._parts[0].end_ns <= t_ns:
            old = self._parts.pop(0)
            for equipment, fields in old.series.items():
                kept = self._before.setdefault(equipment, {})
                for name, s in fields.items():
                    if len(s.ts_ns):
                        kept[name] = Series(s.ts_ns[-1:].copy(), s.value[-1:].copy())

    def series(self) -> dict[str, dict[str, Series]]:
        if not self._parts:
            return {}
        out: dict[str, dict[str, Series]] = {}
        for equipment, fields in self._parts[0].series.items():
            before = self._before.get(equipment, {})
            out[equipment] = {}
            for name in fields:
                pieces = ([before[name]] if name in before else []) + [p.series[equipment][name] for p in self._parts]
                out[equipment][name] = Series(
                    np.concatenate([x.ts_ns for x in pieces]), np.concatenate([x.value for x in pieces])
                )
        return out
