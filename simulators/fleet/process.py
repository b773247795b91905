"""The fleet's process model: robots serving cars, stepped in fixed simulated time.

Pure: no I/O, no wall clock. ``step()`` advances exactly ``step_ns``; the
same plant, seed and step size always give the same run, whatever the time
scale of the server that drives it.

Time convention (what makes the ground truth match the served values): the
values after a step, stamped with ``now_ns``, hold until the next step. The
state served at ``t`` is the state during ``[t, t + step)``, and the power
served is the power applied during that interval, so integrating the served
values sample-and-hold reproduces ``truth`` exactly.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass

from shopfloor.models.plant import Fleet, FleetSimulation, Plant
from shopfloor.models.states import RobotState
from shopfloor.models.timebase import NS_PER_S
from shopfloor.simulators.fleet.demand import Car, CarArrivals
from shopfloor.simulators.fleet.truth import FleetTruth, RobotTruth, SessionOutcome, SessionRecord

# Process constants the plant file does not carry (they shape the demo, not any KPI).
DISPATCH_S = 10.0  # undocking and route planning before the robot moves
DRIVE_KWH_PER_M = 0.002  # a robot carrying its own 80 kWh pack uses about 2 kWh per km
RESERVE_FRACTION_OF_LOW = 0.4  # stop delivering at 40 % of low_soc_pct: enough left to drive back
SELF_CHARGE_TARGET_PCT = 100.0
MIN_DISPATCH_KWH = 5.0  # a robot is only sent if it can deliver at least this (or the whole need)
SESSION_ERROR_HOLD_S = 60.0  # a failed handshake shows its error code this long
INITIAL_SOC_RANGE_PCT = (60.0, 100.0)
# A parked robot is now and then switched off or loses its link to the fleet controller (a Wi-Fi dead
# spot by the bases, an operator powering it down to check the connector): the controller then reports
# it OFFLINE. Rare and short: on average once per robot every two days, for half an hour. Not plant-file
# parameters (models/plant/settings.py); they shape the availability KPI only slightly (~1 % of the time).
OFFLINE_RATE_PER_HOUR = 1.0 / 48.0
MEAN_OFFLINE_MIN = 30.0
MIN_OFFLINE_S = 60.0

ERROR_HANDSHAKE_FAILED = 401
FAULT_CODES = (
    101,  # drive motor overcurrent
    205,  # charging connector over-temperature
    312,  # battery management system fault
    520,  # navigation lidar blocked
)

_SERVING = (RobotState.DISPATCHED, RobotState.DRIVING, RobotState.CONNECTING, RobotState.CHARGING)


@dataclass(slots=True)
class RobotModel:
    """Mutable state of one robot (what it would report, plus its plans)."""

    robot_id: str
    base_x_m: float
    base_y_m: float
    rng: random.Random
    state: RobotState = RobotState.IDLE
    soc_pct: float = 100.0
    x_m: float = 0.0
    y_m: float = 0.0
    power_kw: float = 0.0  # delivered to a car during the coming step
    self_charge_kw: float = 0.0  # drawn from the base during the coming step
    energy_delivered_kwh: float = 0.0
    sessions_completed: int = 0
    sessions_failed: int = 0
    error_code: int = 0
    error_until_ns: int | None = None  # a transient error code clears at this time
    timer_ns: int = 0  # remaining time in DISPATCHED / CONNECTING / FAULT
    car: Car | None = None
    session: SessionRecord | None = None
    next_fault_ns: float = math.inf
    # Offline periods draw from their own stream, so they never shift the draws of faults and handshakes.
    offline_rng: random.Random | None = None
    next_offline_ns: float = math.inf  # due time; it happens the next time the robot is IDLE at base
    offline_since_ns: int = 0

    def at_base(self) -> bool:
        return self.x_m == self.base_x_m and self.y_m == self.base_y_m

    def values(self) -> dict[str, float | int]:
        """Current values keyed by data-contract field name (models.contract.ROBOT_FIELDS)."""
        return {
            "state": int(self.state),
            "soc_pct": self.soc_pct,
            "charging_power_kw": self.power_kw,
            "energy_delivered_kwh_total": self.energy_delivered_kwh,
            "sessions_completed_total": self.sessions_completed,
            "sessions_failed_total": self.sessions_failed,
            "position_x_m": self.x_m,
            "position_y_m": self.y_m,
            "error_code": self.error_code,
        }


class FleetProcess:
    """Robots of one fleet, a queue of cars, and the exact ground truth."""

    def __init__(
        self,
        plant: Plant,
        fleet_id: str | None = None,
        *,
        seed: int | None = None,
        start_ns: int = 0,
        step_s: float = 1.0,
    ) -> None:
        if not plant.fleets:
            raise ValueError("the plant has no fleets to simulate")
        self.fleet: Fleet = plant.fleets[0] if fleet_id is None else plant.fleet(fleet_id)
        self.params: FleetSimulation = plant.simulation.fleet
        if not (step_s > 0 and math.isfinite(step_s)):
            raise ValueError(f"step_s must be a positive number of seconds, got {step_s!r}")
        self.seed = plant.simulation.seed if seed is None else seed
        self.step_ns = round(step_s * NS_PER_S)
        self.now_ns = start_ns
        self.capacity_kwh = self.fleet.battery_capacity_kwh
        self.reserve_pct = self.params.low_soc_pct * RESERVE_FRACTION_OF_LOW
        self._arrivals = CarArrivals(self.params, f"{self.seed}/{self.fleet.id}", start_ns)
        self.queue: deque[Car] = deque()
        self.robots: list[RobotModel] = []
        size = self.params.depot_size_m
        n = len(self.fleet.robots)
        for i, robot in enumerate(self.fleet.robots):
            # Bases in a row along the depot's south edge, so "nearest" means something.
            model = RobotModel(
                robot.id, (i + 0.5) * size / n, 0.0, random.Random(f"{self.seed}/{self.fleet.id}/{robot.id}")
            )
            model.x_m, model.y_m = model.base_x_m, model.base_y_m
            model.soc_pct = model.rng.uniform(*INITIAL_SOC_RANGE_PCT)
            model.next_fault_ns = self._draw_fault_time(model)
            model.offline_rng = random.Random(f"{self.seed}/{self.fleet.id}/{robot.id}/offline")
            model.next_offline_ns = self._draw_offline_time(model)
            self._arrive_at_base(model)
            self.robots.append(model)
        self.truth = FleetTruth(start_ns, [RobotTruth(r.robot_id) for r in self.robots])
        self._set_powers()

    # ------------------------------------------------------------------ public

    @property
    def step_s(self) -> float:
        return self.step_ns / NS_PER_S

    @property
    def elapsed_s(self) -> float:
        return (self.now_ns - self.truth.start_ns) / NS_PER_S

    def robot(self, robot_id: str) -> RobotModel:
        for robot in self.robots:
            if robot.robot_id == robot_id:
                return robot
        raise KeyError(f"fleet {self.fleet.id!r} has no robot {robot_id!r}")

    def step(self) -> None:
        """Advance exactly one step."""
        dt_ns = self.step_ns
        dt_s = dt_ns / NS_PER_S
        for robot, truth in zip(self.robots, self.truth.robots, strict=True):
            truth.state_ns[robot.state] += dt_ns
            self._integrate(robot, truth, dt_s)
        self.now_ns += dt_ns
        for robot, truth in zip(self.robots, self.truth.robots, strict=True):
            self._transitions(robot, truth, dt_ns)
        for car in self._arrivals.arrivals_until(self.now_ns):
            self.truth.cars_arrived += 1
            self.queue.append(car)
        self._dispatch()
        self._set_powers()

    def run_until(self, t_ns: int, max_steps: int | None = None) -> int:
        """Step while a whole step fits before ``t_ns`` (at most ``max_steps``); return the number of steps taken."""
        steps = 0
        while self.now_ns + self.step_ns <= t_ns and (max_steps is None or steps < max_steps):
            self.step()
            steps += 1
        return steps

    # ------------------------------------------------------------------ physics of one interval

    def _integrate(self, robot: RobotModel, truth: RobotTruth, dt_s: float) -> None:
        if robot.power_kw > 0:
            energy = robot.power_kw * dt_s / 3600.0
            robot.soc_pct -= 100.0 * energy / self.capacity_kwh
            robot.energy_delivered_kwh += energy
            truth.energy_delivered_kwh += energy
            assert robot.car is not None and robot.session is not None
            robot.car.need_kwh -= energy
            robot.session.energy_kwh += energy
        elif robot.self_charge_kw > 0:
            robot.soc_pct = min(
                SELF_CHARGE_TARGET_PCT, robot.soc_pct + 100.0 * robot.self_charge_kw * dt_s / 3600.0 / self.capacity_kwh
            )
        if robot.state is RobotState.DRIVING and robot.car is not None:
            self._move(robot, robot.car.x_m, robot.car.y_m, dt_s)
        elif robot.state is RobotState.RETURNING:
            self._move(robot, robot.base_x_m, robot.base_y_m, dt_s)

    def _move(self, robot: RobotModel, x_m: float, y_m: float, dt_s: float) -> None:
        dx, dy = x_m - robot.x_m, y_m - robot.y_m
        distance = math.hypot(dx, dy)
        travel = min(distance, self.params.drive_speed_m_s * dt_s)
        if travel >= distance:
            robot.x_m, robot.y_m = x_m, y_m  # exact arrival: at_base() compares equal
        else:
            robot.x_m += dx * travel / distance
            robot.y_m += dy * travel / distance
        robot.soc_pct = max(0.0, robot.soc_pct - 100.0 * travel * DRIVE_KWH_PER_M / self.capacity_kwh)

    # ------------------------------------------------------------------ state machine

    def _transitions(self, robot: RobotModel, truth: RobotTruth, dt_ns: int) -> None:
        now = self.now_ns
        if robot.error_until_ns is not None and now >= robot.error_until_ns and robot.state is not RobotState.FAULT:
            robot.error_code, robot.error_until_ns = 0, None
        if robot.state not in (RobotState.FAULT, RobotState.OFFLINE) and now >= robot.next_fault_ns:
            self._fault(robot, truth)  # a switched-off robot does not fault: its fault clock is paused
            return
        state = robot.state
        if state is RobotState.FAULT:
            robot.timer_ns -= dt_ns
            if robot.timer_ns <= 0:
                robot.error_code = 0
                robot.next_fault_ns = self._draw_fault_time(robot)
                if robot.at_base():
                    self._arrive_at_base(robot)
                else:
                    robot.state = RobotState.RETURNING
        elif state is RobotState.DISPATCHED:
            robot.timer_ns -= dt_ns
            if robot.timer_ns <= 0:
                robot.state = RobotState.DRIVING
        elif state is RobotState.DRIVING:
            assert robot.car is not None
            if (robot.x_m, robot.y_m) == (robot.car.x_m, robot.car.y_m):
                robot.state = RobotState.CONNECTING
                robot.timer_ns = round(self.params.connect_s * NS_PER_S)
        elif state is RobotState.CONNECTING:
            robot.timer_ns -= dt_ns
            if robot.timer_ns <= 0:
                self._connected(robot, truth)
        elif state is RobotState.CHARGING:
            assert robot.car is not None
            if robot.car.need_kwh <= 1e-9 or robot.soc_pct <= self.reserve_pct + 1e-9:
                self._end_session(robot, SessionOutcome.COMPLETED)
                robot.sessions_completed += 1
                truth.sessions_completed += 1
                robot.state = RobotState.RETURNING
        elif state is RobotState.RETURNING:
            if robot.at_base():
                self._arrive_at_base(robot)
        elif state is RobotState.SELF_CHARGING:
            if robot.soc_pct >= SELF_CHARGE_TARGET_PCT:
                robot.state = RobotState.IDLE
        elif state is RobotState.OFFLINE:
            robot.timer_ns -= dt_ns
            if robot.timer_ns <= 0:
                self._back_online(robot)
        # Only a robot that was already parked and idle is switched off (or out of reach): one that is busy
        # when its time comes goes after it has been idle for a step, so OFFLINE always follows some IDLE.
        if state is RobotState.IDLE and robot.state is RobotState.IDLE and now >= robot.next_offline_ns:
            self._switch_off(robot, truth)

    def _switch_off(self, robot: RobotModel, truth: RobotTruth) -> None:
        assert robot.offline_rng is not None
        truth.offline_periods += 1
        robot.state = RobotState.OFFLINE
        robot.offline_since_ns = self.now_ns
        robot.error_code, robot.error_until_ns = 0, None
        duration_s = max(MIN_OFFLINE_S, robot.offline_rng.expovariate(1.0 / (MEAN_OFFLINE_MIN * 60.0)))
        robot.timer_ns = round(duration_s * NS_PER_S)
        robot.next_offline_ns = math.inf

    def _back_online(self, robot: RobotModel) -> None:
        # The fault clock resumes where it stopped (exponential times: no draw needed, none consumed).
        robot.next_fault_ns += self.now_ns - robot.offline_since_ns
        robot.next_offline_ns = self._draw_offline_time(robot)
        self._arrive_at_base(robot)

    def _connected(self, robot: RobotModel, truth: RobotTruth) -> None:
        assert robot.session is not None
        if robot.rng.random() < self.params.session_failure_rate:
            self._end_session(robot, SessionOutcome.FAILED_HANDSHAKE)
            self.truth.cars_left_unserved += 1
            robot.sessions_failed += 1
            truth.sessions_failed += 1
            robot.error_code = ERROR_HANDSHAKE_FAILED
            robot.error_until_ns = self.now_ns + round(SESSION_ERROR_HOLD_S * NS_PER_S)
            robot.state = RobotState.RETURNING
            return
        robot.session.connected_ns = self.now_ns
        robot.state = RobotState.CHARGING

    def _fault(self, robot: RobotModel, truth: RobotTruth) -> None:
        if robot.state in _SERVING:
            car = robot.car
            assert car is not None
            charging = robot.state is RobotState.CHARGING
            self._end_session(robot, SessionOutcome.ABORTED_BY_FAULT)
            robot.sessions_failed += 1
            truth.sessions_failed += 1
            if not charging:
                # Not plugged in yet: the car keeps its place at the head of the queue.
                self.queue.appendleft(car)
        truth.faults += 1
        robot.state = RobotState.FAULT
        robot.error_code = robot.rng.choice(FAULT_CODES)
        robot.error_until_ns = None
        repair_s = robot.rng.expovariate(1.0 / (self.params.mean_repair_min * 60.0))
        robot.timer_ns = max(1, round(repair_s * NS_PER_S))
        robot.next_fault_ns = math.inf

    def _end_session(self, robot: RobotModel, outcome: SessionOutcome) -> None:
        assert robot.session is not None
        robot.session.outcome = outcome
        robot.session.ended_ns = self.now_ns
        robot.session = None
        robot.car = None

    def _arrive_at_base(self, robot: RobotModel) -> None:
        robot.state = RobotState.SELF_CHARGING if robot.soc_pct < self.params.low_soc_pct else RobotState.IDLE

    def _draw_offline_time(self, robot: RobotModel) -> float:
        assert robot.offline_rng is not None
        return self.now_ns + round(robot.offline_rng.expovariate(OFFLINE_RATE_PER_HOUR / 3600.0) * NS_PER_S)

    def _draw_fault_time(self, robot: RobotModel) -> float:
        rate_per_s = self.params.fault_rate_per_hour / 3600.0
        if rate_per_s <= 0:
            return math.inf
        return self.now_ns + round(robot.rng.expovariate(rate_per_s) * NS_PER_S)

    # ------------------------------------------------------------------ dispatch

    def _deliverable_kwh(self, robot: RobotModel) -> float:
        return (robot.soc_pct - self.reserve_pct) / 100.0 * self.capacity_kwh

    def _dispatch(self) -> None:
        """Send the nearest idle robot that can deliver enough to each waiting car, first come first served."""
        waiting: deque[Car] = deque()
        while self.queue:
            car = self.queue.popleft()
            best: RobotModel | None = None
            best_distance = math.inf
            for robot in self.robots:
                if robot.state is not RobotState.IDLE:
                    continue
                if self._deliverable_kwh(robot) < min(car.need_kwh, MIN_DISPATCH_KWH):
                    continue
                distance = math.hypot(car.x_m - robot.x_m, car.y_m - robot.y_m)
                if distance < best_distance:
                    best, best_distance = robot, distance
            if best is None:
                waiting.append(car)
                continue
            best.state = RobotState.DISPATCHED
            best.timer_ns = round(DISPATCH_S * NS_PER_S)
            best.car = car
            best.session = SessionRecord(best.robot_id, car.car_id, car.need_kwh, self.now_ns)
            self.truth.sessions.append(best.session)
        self.queue = waiting

    def _set_powers(self) -> None:
        """Power for the coming step: never more than the car still needs or the robot can give."""
        dt_h = self.step_ns / NS_PER_S / 3600.0
        for robot in self.robots:
            robot.power_kw = 0.0
            robot.self_charge_kw = 0.0
            if robot.state is RobotState.CHARGING and robot.car is not None:
                can_give = max(0.0, self._deliverable_kwh(robot))
                energy = min(self.fleet.rated_power_kw * dt_h, robot.car.need_kwh, can_give)
                robot.power_kw = energy / dt_h
            elif robot.state is RobotState.SELF_CHARGING:
                room = (SELF_CHARGE_TARGET_PCT - robot.soc_pct) / 100.0 * self.capacity_kwh
                robot.self_charge_kw = min(self.params.self_charge_kw, max(0.0, room) / dt_h)
