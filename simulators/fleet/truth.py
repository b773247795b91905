"""Ground truth of a fleet simulation: what really happened, kept exactly.

The KPI tests compare what the collectors and the KPI core compute against
these records, so they are counted in integer nanoseconds of simulated time
(no float drift) and never derived from the values served over OPC UA.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from shopfloor.models.states import RobotState
from shopfloor.models.timebase import NS_PER_S


class SessionOutcome(StrEnum):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"  # the car's need was met, or the robot's battery reached its reserve
    FAILED_HANDSHAKE = "failed_handshake"  # the car refused the connection (session_failure_rate)
    ABORTED_BY_FAULT = "aborted_by_fault"  # the robot faulted between dispatch and the end of charging


@dataclass(slots=True)
class SessionRecord:
    """One dispatch of one robot to one car."""

    robot_id: str
    car_id: int
    need_kwh: float
    dispatched_ns: int
    connected_ns: int | None = None
    ended_ns: int | None = None
    energy_kwh: float = 0.0
    outcome: SessionOutcome = SessionOutcome.IN_PROGRESS

    @property
    def response_time_s(self) -> float | None:
        """Dispatch → connected, the fleet's response time (None if it never connected)."""
        if self.connected_ns is None:
            return None
        return (self.connected_ns - self.dispatched_ns) / NS_PER_S


@dataclass(slots=True)
class RobotTruth:
    robot_id: str
    # Nanoseconds spent in each RobotState, indexed by the state's code.
    state_ns: list[int] = field(default_factory=lambda: [0] * len(RobotState))
    sessions_completed: int = 0
    sessions_failed: int = 0
    energy_delivered_kwh: float = 0.0
    faults: int = 0
    offline_periods: int = 0  # times the robot went OFFLINE (switched off / controller link lost)

    def state_seconds(self) -> dict[RobotState, float]:
        return {state: self.state_ns[state] / NS_PER_S for state in RobotState}


@dataclass(slots=True)
class FleetTruth:
    start_ns: int
    robots: list[RobotTruth]
    sessions: list[SessionRecord] = field(default_factory=list)
    cars_arrived: int = 0
    cars_left_unserved: int = 0  # handshake failed: the car drove off without charge

    def robot(self, robot_id: str) -> RobotTruth:
        for truth in self.robots:
            if truth.robot_id == robot_id:
                return truth
        raise KeyError(robot_id)

    def sessions_of(self, robot_id: str) -> list[SessionRecord]:
        return [s for s in self.sessions if s.robot_id == robot_id]

    def response_times_s(self, robot_id: str | None = None) -> list[float]:
        """Response time of every session that connected, in dispatch order."""
        return [
            s.response_time_s
            for s in self.sessions
            if s.response_time_s is not None and (robot_id is None or s.robot_id == robot_id)
        ]
