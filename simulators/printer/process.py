"""Process model of an MSO-CPP gravure printing line: pure, no I/O, fixed steps.

Driven by the plant file (``plant.simulation.printer``, the stop reasons and
the shift calendar) and one seeded ``random.Random``. The model is advanced
in fixed simulated steps (``step_s``, 1 s by default); a step ``[t0, t1)`` is
integrated with the state decided at ``t0``, then the state for the next
step is decided at ``t1``. Random draws happen only at events (a failure, a
changeover, a starved/blocked stop), so the trajectory is a function of the
seed and of simulated time alone (see simulators/clock.py).

What happens, in order of priority at each step boundary:

1. an injected emergency stop holds the line (HELD, reason 0);
2. a timed stop (fault repair, changeover, starved/blocked) runs to its end;
3. outside every shift the line is OFFLINE; in a planned break it is STOPPED
   with the ``planned_break`` reason;
4. a changeover is due every ``changeover_every_m`` metres: the order on the
   line is done and the next order of the queue is loaded (SETUP, a random
   setup-category reason, ``changeover_min`` ± 15 %);
5. a failure is due after an exponential running time with mean
   ``mean_time_between_failures_min`` (FAULT, a random unplanned reason,
   repair exponential with mean ``mean_time_to_repair_min``, at least 1 min);
6. starved/blocked is due after an exponential running time (SUSPENDED, a
   random external reason);
7. otherwise the line RUNS, ramping toward the setpoint.

Print orders: the line works through a queue of orders of ``changeover_every_m``
metres each, numbered from ``FIRST_ORDER_NUMBER`` on, each of a design drawn from
the plant file's ``[[designs]]`` (0 if it lists none) by a random stream of its
own (so adding orders changed no other draw). It serves them in the
``order_number`` and ``design_code`` registers; ``truth.orders`` keeps what each
order printed. The speed setpoint is the same for every design.

Every quantity is integrated exactly over piecewise-linear speed (ramps that
end inside a step are split), so metres, energy and the speed trajectory are
consistent to float precision.
"""

from __future__ import annotations

import logging
import math
import random
from dataclasses import dataclass

from shopfloor.models.plant import Plant, Printer, StopCategory, StopReason
from shopfloor.models.states import PrinterState
from shopfloor.models.timebase import NS_PER_S
from shopfloor.simulators.printer.schedule import Plan, PlanLookup
from shopfloor.simulators.printer.truth import OrderRun, PrinterTruth, StopEvent

log = logging.getLogger("shopfloor.simulators.printer")

PLANNED_BREAK_KEY = "planned_break"
FIRST_ORDER_NUMBER = 7001


@dataclass(frozen=True, slots=True)
class ProcessConstants:
    """Behaviour the plant file does not describe (a real plant has no such table)."""

    decel_factor: float = 10.0  # braking is this many times faster than ramping up
    ramp_defect_factor: float = 4.0  # defect rate multiplier while ramping up after a restart
    offline_power_fraction: float = 0.05  # controls and heating of the cabinet when switched off
    cleaning_water_l_per_changeover: float = 40.0  # washing the ink trays and doctor blades
    starved_every_run_min: float = 300.0  # mean running time between starved/blocked stops
    starved_mean_min: float = 4.0
    min_repair_s: float = 60.0
    changeover_jitter: float = 0.15  # changeover duration is changeover_min × (1 ± this)
    dryer_2_offset_c: float = -5.0  # zone 2 runs slightly cooler than zone 1
    dryer_ambient_c: float = 25.0
    dryer_heat_tau_s: float = 240.0
    dryer_cool_tau_s: float = 1800.0
    dryer_cool_after_s: float = 900.0  # heaters go to standby after a stop this long


# Signals the model computes; any other signal in a plant's map is served as 0.
MODEL_SIGNALS: tuple[str, ...] = (
    "state",
    "stop_reason",
    "speed_m_min",
    "speed_setpoint_m_min",
    "printed_m_total",
    "defective_m_total",
    "energy_kwh_total",
    "water_l_total",
    "ink_consumed_kg_total",
    "dryer_1_temp_c",
    "dryer_2_temp_c",
    "power_kw",
    "run_time_s_total",
    "running",
    "fault_active",
    "emergency_stop",
    "order_number",
    "design_code",
)


def ramp(v0: float, target: float, rate_per_s: float, dt_s: float) -> tuple[float, float]:
    """Speed after ``dt_s`` moving toward ``target`` at ``rate_per_s``, and ∫v dt over the step.

    Pure; the integral is exact for the piecewise-linear speed (units of
    speed × seconds, e.g. m/min·s).
    """
    gap = target - v0
    if gap == 0:
        return v0, v0 * dt_s
    t_reach = abs(gap) / rate_per_s
    if t_reach >= dt_s:
        v1 = v0 + math.copysign(rate_per_s * dt_s, gap)
        return v1, (v0 + v1) / 2 * dt_s
    return target, (v0 + target) / 2 * t_reach + target * (dt_s - t_reach)


class PrinterProcess:
    """One printing line, advanced in fixed simulated steps."""

    def __init__(
        self,
        plant: Plant,
        printer_id: str | None = None,
        *,
        seed: int | None = None,
        start_ns: int,
        step_s: float = 1.0,
        constants: ProcessConstants | None = None,
    ) -> None:
        self.printer: Printer = plant.printer(printer_id) if printer_id else plant.printers[0]
        self.params = plant.simulation.printer
        self.constants = constants or ProcessConstants()
        self.seed = plant.simulation.seed if seed is None else seed
        self.step_ns = round(step_s * NS_PER_S)
        if self.step_ns <= 0:
            raise ValueError(f"step_s must be positive, got {step_s!r}")
        self.step_s = self.step_ns / NS_PER_S
        self._rng = random.Random(self.seed)
        self._plan = PlanLookup(plant.shift_calendar, plant.tz)
        self._reasons = _reasons_by_category(plant.stop_reasons)
        self._break_code = _break_code(plant.stop_reasons)
        # Orders draw from a stream of their own: the failures, stops and changeovers stay those of the seed.
        self._order_rng = random.Random(f"{self.seed}:orders")
        self._design_codes = [d.code for d in plant.designs]

        c, p, dt = self.constants, self.params, self.step_s
        self._decel = p.ramp_m_min_per_s * c.decel_factor
        self._heat_alpha = 1 - math.exp(-dt / c.dryer_heat_tau_s)
        self._cool_alpha = 1 - math.exp(-dt / c.dryer_cool_tau_s)

        self.truth = PrinterTruth(start_ns=start_ns, now_ns=start_ns)
        self.now_ns = start_ns
        self.state = PrinterState.RUNNING
        self.reason = 0
        self.setpoint_m_min = p.setpoint_m_min
        self.speed_m_min = p.setpoint_m_min  # the line is already up when the simulation starts
        self.dryer_1_c = p.dryer_setpoint_c
        self.dryer_2_c = p.dryer_setpoint_c + c.dryer_2_offset_c
        self.emergency_stop = False
        self._stop_until_ns: int | None = None
        self._stopped_since_ns: int | None = None
        self._m_since_changeover = 0.0
        self._load_next_order(start_ns)
        self._run_s_to_failure = self._draw_failure_s()
        self._run_s_to_starved = self._draw_starved_s()
        self._decide(start_ns)
        if self.state is not PrinterState.RUNNING:
            self.speed_m_min = 0.0

    # ------------------------------------------------------------------ stepping

    def step(self) -> None:
        """Advance one fixed step."""
        self._integrate()
        self.now_ns += self.step_ns
        self.truth.now_ns = self.now_ns
        self._decide(self.now_ns)

    def advance(self, step_s: float, t_ns: int) -> None:
        """``run_fixed_steps`` callback: one step ending at ``t_ns`` (checked, not trusted)."""
        if round(step_s * NS_PER_S) != self.step_ns or t_ns != self.now_ns + self.step_ns:
            raise ValueError(
                f"expected a step of {self.step_s} s ending at {self.now_ns + self.step_ns}, got {step_s} s at {t_ns}"
            )
        self.step()

    def run_until(self, t_ns: int) -> int:
        """Step until the next step would pass ``t_ns``; returns the steps run."""
        steps = 0
        while self.now_ns + self.step_ns <= t_ns:
            self.step()
            steps += 1
        return steps

    def set_emergency_stop(self, active: bool) -> None:
        """Press or release the emergency stop; the state changes at once."""
        self.emergency_stop = active
        self._decide(self.now_ns)

    # ------------------------------------------------------------------ outputs

    @property
    def power_kw(self) -> float:
        if self.state is PrinterState.OFFLINE:
            return self.params.idle_power_kw * self.constants.offline_power_fraction
        return self.params.idle_power_kw + self.params.power_kw_per_m_min * self.speed_m_min

    def values(self) -> dict[str, float]:
        """Every signal the model knows, in engineering units, at ``now_ns``."""
        t = self.truth
        return {
            "state": float(self.state),
            "stop_reason": float(self.reason),
            "speed_m_min": self.speed_m_min,
            "speed_setpoint_m_min": self.setpoint_m_min,
            "printed_m_total": self.params.initial_printed_m + t.printed_m,
            "defective_m_total": t.defective_m,
            "energy_kwh_total": t.energy_kwh,
            "water_l_total": t.water_l,
            "ink_consumed_kg_total": t.ink_kg,
            "dryer_1_temp_c": self.dryer_1_c,
            "dryer_2_temp_c": self.dryer_2_c,
            "power_kw": self.power_kw,
            "run_time_s_total": t.run_time_ns / NS_PER_S,
            "running": 1.0 if self.state is PrinterState.RUNNING else 0.0,
            "fault_active": 1.0 if self.state is PrinterState.FAULT else 0.0,
            "emergency_stop": 1.0 if self.emergency_stop else 0.0,
            "order_number": float(self.order.order_number),
            "design_code": float(self.order.design_code),
        }

    @property
    def order(self) -> OrderRun:
        """The order on the line (loaded at the start of its changeover)."""
        return self.truth.orders[-1]

    # ------------------------------------------------------------------ internals

    def _integrate(self) -> None:
        p, c, t, dt = self.params, self.constants, self.truth, self.step_s
        running = self.state is PrinterState.RUNNING
        v0 = self.speed_m_min
        if running:
            rate = p.ramp_m_min_per_s if v0 <= self.setpoint_m_min else self._decel
            v1, speed_s = ramp(v0, self.setpoint_m_min, rate, dt)
        else:
            v1, speed_s = ramp(v0, 0.0, self._decel, dt)
        metres = speed_s / 60.0
        if self.state is PrinterState.OFFLINE:
            energy_kwh = p.idle_power_kw * c.offline_power_fraction * dt / 3600.0
        else:
            # power = idle + k·speed is linear in speed, so its integral is exact.
            energy_kwh = (p.idle_power_kw * dt + p.power_kw_per_m_min * speed_s) / 3600.0
        defect_rate = p.defect_rate
        if running and v0 < self.setpoint_m_min:
            defect_rate = min(1.0, defect_rate * c.ramp_defect_factor)

        self.speed_m_min = v1
        t.printed_m += metres
        t.defective_m += metres * defect_rate
        order = t.orders[-1]
        order.printed_m += metres
        order.defective_m += metres * defect_rate
        t.energy_kwh += energy_kwh
        t.water_l += metres * p.water_l_per_m
        t.ink_kg += metres * p.ink_g_per_m / 1000.0
        t.state_ns[self.state] += self.step_ns
        self._m_since_changeover += metres
        if running:
            t.run_time_ns += self.step_ns
            self._run_s_to_failure -= dt
            self._run_s_to_starved -= dt

        cooling = self.state is PrinterState.OFFLINE or (
            self._stopped_since_ns is not None
            and self.now_ns - self._stopped_since_ns >= c.dryer_cool_after_s * NS_PER_S
        )
        if cooling:
            self.dryer_1_c += (c.dryer_ambient_c - self.dryer_1_c) * self._cool_alpha
            self.dryer_2_c += (c.dryer_ambient_c - self.dryer_2_c) * self._cool_alpha
        else:
            self.dryer_1_c += (p.dryer_setpoint_c - self.dryer_1_c) * self._heat_alpha
            self.dryer_2_c += (p.dryer_setpoint_c + c.dryer_2_offset_c - self.dryer_2_c) * self._heat_alpha

    def _decide(self, t_ns: int) -> None:
        if self.emergency_stop:
            self._stop_until_ns = None  # a timed stop is abandoned; its remainder is not resumed
            self._transition(PrinterState.HELD, 0, t_ns)
            return
        if self._stop_until_ns is not None and t_ns < self._stop_until_ns:
            return
        self._stop_until_ns = None
        plan = self._plan.plan_at(t_ns)
        if plan is Plan.NO_SHIFT:
            self._transition(PrinterState.OFFLINE, 0, t_ns)
        elif plan is Plan.BREAK:
            self._transition(PrinterState.STOPPED, self._break_code, t_ns)
        elif self._m_since_changeover >= self.params.changeover_every_m and self._reasons[StopCategory.SETUP]:
            self._m_since_changeover = 0.0
            self._load_next_order(t_ns)
            self.truth.changeovers += 1
            self.truth.water_l += self.constants.cleaning_water_l_per_changeover
            jitter = self.constants.changeover_jitter
            minutes = self.params.changeover_min * self._rng.uniform(1 - jitter, 1 + jitter)
            self._timed_stop(PrinterState.SETUP, StopCategory.SETUP, minutes * 60, t_ns)
        elif self._run_s_to_failure <= 0:
            self.truth.failures += 1
            self._run_s_to_failure = self._draw_failure_s()
            repair_s = max(
                self.constants.min_repair_s, self._rng.expovariate(1 / (self.params.mean_time_to_repair_min * 60))
            )
            self._timed_stop(PrinterState.FAULT, StopCategory.UNPLANNED, repair_s, t_ns)
        elif self._run_s_to_starved <= 0:
            self._run_s_to_starved = self._draw_starved_s()
            wait_s = max(self.step_s, self._rng.expovariate(1 / (self.constants.starved_mean_min * 60)))
            self._timed_stop(PrinterState.SUSPENDED, StopCategory.EXTERNAL, wait_s, t_ns)
        else:
            self._transition(PrinterState.RUNNING, 0, t_ns)

    def _load_next_order(self, t_ns: int) -> None:
        orders = self.truth.orders
        if orders:
            orders[-1].end_ns = t_ns
        number = orders[-1].order_number + 1 if orders else FIRST_ORDER_NUMBER
        design = self._order_rng.choice(self._design_codes) if self._design_codes else 0
        orders.append(OrderRun(number, design, self.params.changeover_every_m, t_ns))

    def _timed_stop(self, state: PrinterState, category: StopCategory, seconds: float, t_ns: int) -> None:
        reason = self._rng.choice(self._reasons[category])
        self._stop_until_ns = t_ns + round(seconds * NS_PER_S)
        self._transition(state, reason.code, t_ns)

    def _transition(self, state: PrinterState, reason: int, t_ns: int) -> None:
        if state is self.state and reason == self.reason and self._open_stop_matches(state):
            return
        stops = self.truth.stops
        if stops and stops[-1].end_ns is None:
            stops[-1].end_ns = t_ns
        if state is not PrinterState.RUNNING:
            stops.append(StopEvent(t_ns, None, state, reason))
            if self.state is PrinterState.RUNNING or self._stopped_since_ns is None:
                self._stopped_since_ns = t_ns
        else:
            self._stopped_since_ns = None
        self.state, self.reason = state, reason

    def _open_stop_matches(self, state: PrinterState) -> bool:
        # At start there is no stop event yet even if the first state is a stop.
        if state is PrinterState.RUNNING:
            return True
        stops = self.truth.stops
        return bool(stops) and stops[-1].end_ns is None

    def _draw_failure_s(self) -> float:
        if not self._reasons[StopCategory.UNPLANNED]:
            return math.inf
        return self._rng.expovariate(1 / (self.params.mean_time_between_failures_min * 60))

    def _draw_starved_s(self) -> float:
        if not self._reasons[StopCategory.EXTERNAL]:
            return math.inf
        return self._rng.expovariate(1 / (self.constants.starved_every_run_min * 60))


def line_seed(seed: int, index: int) -> int:
    """The seed of the plant's ``index``-th printer: the plant's own for the first (a one-line plant runs as it
    always did), a stream of its own for each other, so the lines of one plant do not fail, stop and change orders
    in lockstep."""
    return seed if index == 0 else seed * 1_000 + index


def _reasons_by_category(reasons: list[StopReason]) -> dict[StopCategory, list[StopReason]]:
    out: dict[StopCategory, list[StopReason]] = {category: [] for category in StopCategory}
    for reason in reasons:
        out[reason.category].append(reason)
    for category in (StopCategory.SETUP, StopCategory.UNPLANNED, StopCategory.EXTERNAL):
        if not out[category]:
            log.warning("no %s stop reasons in the plant file: the simulator will not produce such stops", category)
    return out


def _break_code(reasons: list[StopReason]) -> int:
    """Code of the ``planned_break`` reason (else the first planned reason, else 0)."""
    for reason in reasons:
        if reason.key == PLANNED_BREAK_KEY:
            return reason.code
    planned = [r for r in reasons if r.category is StopCategory.PLANNED]
    if planned:
        log.warning("no stop reason with key %r: planned breaks use %r", PLANNED_BREAK_KEY, planned[0].key)
        return planned[0].code
    log.warning("no planned stop reason in the plant file: planned breaks are served with stop_reason 0")
    return 0
