"""The pure process model: demand served, states visited, ground truth exact, runs reproducible."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopfloor.models.contract import ROBOT_FIELD_NAMES
from shopfloor.models.states import RobotState
from shopfloor.models.timebase import NS_PER_S
from shopfloor.simulators.fleet.process import FleetProcess
from shopfloor.simulators.fleet.truth import SessionOutcome
from tests.simulators.fleet._helpers import SIM_START_NS, make_plant

DAY_S = 86_400


@pytest.fixture(scope="module")
def day() -> FleetProcess:
    """One simulated day of the default plant's fleet, with every state transition recorded."""
    process = FleetProcess(make_plant(), seed=20261124, start_ns=SIM_START_NS)
    process.transitions = []  # type: ignore[attr-defined]  # the test's own attribute
    previous = [r.state for r in process.robots]
    end = SIM_START_NS + DAY_S * NS_PER_S
    while process.now_ns < end:
        process.step()
        for i, robot in enumerate(process.robots):
            if robot.state is not previous[i]:
                process.transitions.append(  # type: ignore[attr-defined]  # the test's own attribute
                    (robot.robot_id, previous[i], robot.state, robot.soc_pct)
                )
                previous[i] = robot.state
    return process


def test_cars_are_served_and_energy_is_delivered(day: FleetProcess) -> None:
    truth = day.truth
    completed = [s for s in truth.sessions if s.outcome is SessionOutcome.COMPLETED]
    assert truth.cars_arrived > 0.5 * day.params.car_arrivals_per_hour * 24  # Poisson mean 216: far from 108
    assert len(completed) > 0.8 * truth.cars_arrived - len(day.queue)
    assert sum(r.energy_delivered_kwh for r in truth.robots) > 0.5 * len(completed) * day.params.mean_energy_need_kwh
    assert all(s.energy_kwh > 0 for s in completed)


def test_states_follow_the_service_cycle(day: FleetProcess) -> None:
    seen = {(a, b) for _, a, b, _ in day.transitions}  # type: ignore[attr-defined]  # the test's own attribute
    S = RobotState
    for edge in [
        (S.IDLE, S.DISPATCHED),
        (S.DISPATCHED, S.DRIVING),
        (S.DRIVING, S.CONNECTING),
        (S.CONNECTING, S.CHARGING),
        (S.CHARGING, S.RETURNING),
        (S.RETURNING, S.SELF_CHARGING),
        (S.SELF_CHARGING, S.IDLE),
    ]:
        assert edge in seen, f"never saw {edge[0].name} -> {edge[1].name}"
    allowed_next = {
        S.IDLE: {S.DISPATCHED, S.FAULT, S.OFFLINE},
        S.DISPATCHED: {S.DRIVING, S.FAULT},
        S.DRIVING: {S.CONNECTING, S.FAULT},
        S.CONNECTING: {S.CHARGING, S.RETURNING, S.FAULT},
        S.CHARGING: {S.RETURNING, S.FAULT},
        S.RETURNING: {S.IDLE, S.SELF_CHARGING, S.FAULT},
        S.SELF_CHARGING: {S.IDLE, S.FAULT},
        S.FAULT: {S.IDLE, S.SELF_CHARGING, S.RETURNING},
        S.OFFLINE: {S.IDLE, S.SELF_CHARGING},  # back at its base, as it was switched off
    }
    # A robot that becomes idle while cars queue is dispatched in the same step: IDLE lasts zero time.
    for after in allowed_next.values():
        if S.IDLE in after:
            after.add(S.DISPATCHED)
    for robot_id, before, after, _ in day.transitions:  # type: ignore[attr-defined]  # the test's own attribute
        assert after in allowed_next[before], f"{robot_id}: {before.name} -> {after.name}"


def test_faults_and_failures_happen_and_are_counted(day: FleetProcess) -> None:
    truth = day.truth
    assert sum(r.faults for r in truth.robots) > 0
    assert sum(r.state_ns[RobotState.FAULT] for r in truth.robots) > 0
    failures = (SessionOutcome.FAILED_HANDSHAKE, SessionOutcome.ABORTED_BY_FAULT)
    failed = [s for s in truth.sessions if s.outcome in failures]
    assert failed
    assert sum(r.sessions_failed for r in truth.robots) == len(failed)


def test_self_charging_happens_only_when_low(day: FleetProcess) -> None:
    assert any(r.state_ns[RobotState.SELF_CHARGING] > 0 for r in day.truth.robots)
    low = day.params.low_soc_pct
    for robot_id, before, after, soc in day.transitions:  # type: ignore[attr-defined]  # the test's own attribute
        if after is RobotState.SELF_CHARGING:
            assert soc < low, f"{robot_id} self-charges at {soc:.1f} %"
        if before is RobotState.SELF_CHARGING and after is not RobotState.FAULT:
            assert soc == pytest.approx(100.0), f"{robot_id} stopped self-charging at {soc:.1f} %"
        if before is RobotState.CHARGING:
            # Delivery stops at the reserve, which is what gets the robot home.
            assert soc >= day.reserve_pct - 1e-6
    for robot in day.robots:
        assert 0.0 < robot.soc_pct <= 100.0


def test_ground_truth_is_consistent(day: FleetProcess) -> None:
    truth = day.truth
    elapsed_ns = day.now_ns - SIM_START_NS
    assert elapsed_ns == DAY_S * NS_PER_S
    for robot, rt in zip(day.robots, truth.robots, strict=True):
        assert sum(rt.state_ns) == elapsed_ns  # exact: integer nanoseconds
        sessions = truth.sessions_of(rt.robot_id)
        assert rt.energy_delivered_kwh == pytest.approx(sum(s.energy_kwh for s in sessions), rel=1e-9, abs=1e-9)
        assert rt.sessions_completed == sum(s.outcome is SessionOutcome.COMPLETED for s in sessions)
        # What the robot would serve agrees with the truth.
        values = robot.values()
        assert set(values) == ROBOT_FIELD_NAMES
        assert values["energy_delivered_kwh_total"] == pytest.approx(rt.energy_delivered_kwh, rel=1e-12)
        assert values["sessions_completed_total"] == rt.sessions_completed
        assert values["sessions_failed_total"] == rt.sessions_failed
        assert values["state"] == int(robot.state)


def test_response_times_are_dispatch_to_connected(day: FleetProcess) -> None:
    truth = day.truth
    times = truth.response_times_s()
    assert times
    for session in truth.sessions:
        if session.connected_ns is not None:
            assert session.response_time_s == (session.connected_ns - session.dispatched_ns) / NS_PER_S
            # At least undocking plus the handshake; driving 0 m is possible only at the base.
            assert session.response_time_s >= day.params.connect_s
    # The longest trip across the depot bounds the response time from above (plus dispatch and rounding).
    diagonal_s = math.hypot(day.params.depot_size_m, day.params.depot_size_m) / day.params.drive_speed_m_s
    assert max(times) <= 10 + diagonal_s + day.params.connect_s + 3 * day.step_s


def _fingerprint(process: FleetProcess) -> tuple:
    return (
        [tuple(sorted(r.values().items())) for r in process.robots],
        [
            (s.robot_id, s.car_id, s.dispatched_ns, s.connected_ns, s.ended_ns, s.outcome)
            for s in process.truth.sessions
        ],
    )


def test_same_seed_same_run_and_different_seed_different_run() -> None:
    plant = make_plant()
    end = SIM_START_NS + 6 * 3600 * NS_PER_S
    runs = []
    for seed in (7, 7, 8):
        process = FleetProcess(plant, seed=seed, start_ns=SIM_START_NS)
        process.run_until(end)
        runs.append(_fingerprint(process))
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_catching_up_in_any_chunks_gives_the_same_run() -> None:
    """What makes a time-scaled server deterministic: the model only ever takes fixed steps."""
    plant = make_plant()
    whole = FleetProcess(plant, seed=3, start_ns=SIM_START_NS)
    whole.run_until(SIM_START_NS + 4 * 3600 * NS_PER_S)
    chunked = FleetProcess(plant, seed=3, start_ns=SIM_START_NS)
    t = SIM_START_NS
    for chunk_s in [0.3, 7.9, 600, 0.5, 1234.5] * 10:
        t += round(chunk_s * NS_PER_S)
        chunked.run_until(min(t, SIM_START_NS + 4 * 3600 * NS_PER_S))
    chunked.run_until(SIM_START_NS + 4 * 3600 * NS_PER_S)
    assert _fingerprint(whole) == _fingerprint(chunked)


def test_cars_queue_when_no_robot_is_free() -> None:
    # One robot and a rush of cars: most must wait, and are served in order of arrival.
    process = FleetProcess(
        make_plant(robots=1, car_arrivals_per_hour=60.0, fault_rate_per_hour=0.0), seed=1, start_ns=SIM_START_NS
    )
    max_queue = 0
    for _ in range(3 * 3600):
        process.step()
        max_queue = max(max_queue, len(process.queue))
    assert max_queue >= 5
    car_ids = [s.car_id for s in process.truth.sessions]
    assert car_ids == sorted(car_ids)


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    robots=st.integers(1, 6),
    step_s=st.sampled_from([0.5, 1.0, 2.0, 5.0]),
    hours=st.integers(1, 4),
    failure_rate=st.sampled_from([0.0, 0.3, 1.0]),
    fault_rate=st.sampled_from([0.0, 0.5, 4.0]),
)
def test_invariants_hold_for_any_plant(
    seed: int, robots: int, step_s: float, hours: int, failure_rate: float, fault_rate: float
) -> None:
    """Invariants checked against a plain recount of the session records."""
    plant = make_plant(
        robots=robots, session_failure_rate=failure_rate, fault_rate_per_hour=fault_rate, car_arrivals_per_hour=20.0
    )
    process = FleetProcess(plant, seed=seed, start_ns=0, step_s=step_s)
    process.run_until(hours * 3600 * NS_PER_S)
    truth = process.truth
    for robot, rt in zip(process.robots, truth.robots, strict=True):
        assert sum(rt.state_ns) == process.now_ns
        sessions = truth.sessions_of(rt.robot_id)
        recount_failed = sum(
            s.outcome in (SessionOutcome.FAILED_HANDSHAKE, SessionOutcome.ABORTED_BY_FAULT) for s in sessions
        )
        assert rt.sessions_failed == recount_failed == robot.sessions_failed
        assert rt.energy_delivered_kwh == pytest.approx(sum(s.energy_kwh for s in sessions), abs=1e-9)
        assert sum(s.outcome is SessionOutcome.IN_PROGRESS for s in sessions) <= 1
        assert 0.0 <= robot.soc_pct <= 100.0
        for s in sessions:
            assert s.energy_kwh <= s.need_kwh + 1e-9
    if failure_rate == 1.0:
        assert all(s.connected_ns is None or s.outcome is SessionOutcome.ABORTED_BY_FAULT for s in truth.sessions)
        assert sum(r.energy_delivered_kwh for r in truth.robots) == 0.0
    # Every car that arrived is queued, in a session, or accounted for as finished.
    in_service = sum(s.outcome is SessionOutcome.IN_PROGRESS for s in truth.sessions)
    finished_cars = {
        s.car_id for s in truth.sessions if s.outcome in (SessionOutcome.COMPLETED, SessionOutcome.FAILED_HANDSHAKE)
    }
    # A fault after plugging in ends that car's visit; before it, the car queues again.
    finished_cars |= {
        s.car_id for s in truth.sessions if s.outcome is SessionOutcome.ABORTED_BY_FAULT and s.connected_ns is not None
    }
    assert len(process.queue) + in_service + len(finished_cars) == truth.cars_arrived


def test_bad_arguments_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="step_s"):
        FleetProcess(make_plant(), step_s=0)
    with pytest.raises(KeyError):
        FleetProcess(make_plant(), "no-such-fleet")
