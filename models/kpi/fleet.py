"""Robot fleet KPIs: time per state, availability, utilisation, sessions, response time.

Availability follows the shape of public EV-charger uptime rules (US NEVI,
23 CFR 680.116(b): uptime = (total time - (outage time - excluded time)) /
total time, with planned maintenance among the exclusions). Here:

    availability = (observed - MAINTENANCE - FAULT - OFFLINE) / (observed - MAINTENANCE)
    utilisation  = CHARGING / (observed - MAINTENANCE)

where "observed" is time with data. Unlike NEVI, excluded time and no-data
time are dropped from the denominator rather than counted as up: a robot in
maintenance the whole shift is "not applicable", not 100 %.

Response time: from entering DISPATCHED to being connected to the car —
the first CHARGING (the handshake of CONNECTING succeeded) — before the next
dispatch. A dispatch whose handshake fails never connects and has no
response time (it counts as a failed session instead). A response is measured only when every
moment of it is observed (the transition into DISPATCHED was seen, and no
gap or outage lies in between) and the connection comes within the response
horizon (``KpiConfig.response_horizon_s``: a longer wait is not a response to
that dispatch); it belongs to the shift of the dispatch. The horizon bounds
how far past a range's end a computation must read to see every arrival
(docs/kpi.md, "Context").
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from shopfloor.models.kpi.intervals import NO_DATA, Intervals, Runs
from shopfloor.models.kpi.oee import ratio
from shopfloor.models.kpi.outages import NO_SPANS, Spans, overlaps
from shopfloor.models.states import RobotState
from shopfloor.models.timebase import NS_PER_S

N_ROBOT_STATES = max(RobotState) + 1
CONNECTED = (RobotState.CHARGING,)


def state_seconds(intervals: Intervals, n_instances: int) -> npt.NDArray[np.float64]:
    """Seconds per (slot, state) where slot n_instances is outside every shift and column -1 is no data."""
    n_slots = n_instances + 1
    n_cols = N_ROBOT_STATES + 1
    slot = np.where(intervals.instance < 0, n_instances, intervals.instance)
    col = np.where(
        (intervals.state == NO_DATA) | (intervals.state >= N_ROBOT_STATES) | (intervals.state < 0),
        N_ROBOT_STATES,
        intervals.state,
    )
    sec = np.bincount(slot * n_cols + col, weights=intervals.duration_ns / NS_PER_S, minlength=n_slots * n_cols)
    return sec.reshape(n_slots, n_cols).astype(np.float64, copy=False)  # already float64: numpy's stubs say intp


@dataclass(frozen=True, slots=True)
class Responses:
    dispatch_ns: npt.NDArray[np.int64]
    response_s: npt.NDArray[np.float64]


def responses(r: Runs, outages: Spans = NO_SPANS, horizon_s: float | None = None) -> Responses:
    """Dispatch -> connected response times of one robot, from its state runs.

    ``horizon_s``: a connection later than this after the dispatch is no response (None: any wait).
    """
    n = len(r.start_ns)
    empty = Responses(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64))
    if n < 2:
        return empty
    # contiguous[k]: run k ends where run k+1 starts (no gap between them).
    contiguous = r.end_ns[:-1] == r.start_ns[1:]
    is_dispatch = np.zeros(n, dtype=bool)
    is_dispatch[1:] = (r.value[1:] == RobotState.DISPATCHED) & (r.value[:-1] != RobotState.DISPATCHED) & contiguous
    any_dispatch = np.flatnonzero(r.value == RobotState.DISPATCHED)
    arrived = np.flatnonzero(np.isin(r.value, CONNECTED))
    d = np.flatnonzero(is_dispatch)
    if len(d) == 0 or len(arrived) == 0:
        return empty
    k = np.searchsorted(arrived, d, side="right")  # first arrival after each dispatch
    has_arrival = k < len(arrived)
    a = arrived[np.clip(k, 0, len(arrived) - 1)]
    nd = np.searchsorted(any_dispatch, d, side="right")  # next DISPATCHED run (any kind)
    next_dispatch = np.where(nd < len(any_dispatch), any_dispatch[np.clip(nd, 0, len(any_dispatch) - 1)], n)
    # Gaps between run j and run a: count of non-contiguous joins in [j, a).
    breaks = np.r_[0, np.cumsum(~contiguous)]
    gap_free = breaks[a] - breaks[d] == 0
    ok = has_arrival & (a < next_dispatch) & gap_free
    t_d, t_a = r.start_ns[d], r.start_ns[a]
    ok &= ~overlaps(outages, t_d, t_a)
    if horizon_s is not None:
        ok &= t_a - t_d <= round(horizon_s * NS_PER_S)
    return Responses(t_d[ok], (t_a[ok] - t_d[ok]) / NS_PER_S)


@dataclass(frozen=True, slots=True)
class FleetTotals:
    """Additive totals of one or more robots over one or more shifts."""

    seconds_by_state: tuple[float, ...] = (0.0,) * N_ROBOT_STATES  # indexed by RobotState
    no_data_s: float = 0.0
    sessions_completed: float = 0.0
    sessions_failed: float = 0.0
    energy_delivered_kwh: float = 0.0
    across_gap_sessions: float = 0.0  # part of the sessions counted across a gap (kept, flagged)
    response_s: tuple[float, ...] = field(default=())  # every measured response (percentiles need them all)
    robot_ids: frozenset[str] = frozenset()  # a set, so summing shifts does not count a robot twice

    def __add__(self, other: FleetTotals) -> FleetTotals:
        return FleetTotals(
            tuple(a + b for a, b in zip(self.seconds_by_state, other.seconds_by_state, strict=True)),
            self.no_data_s + other.no_data_s,
            self.sessions_completed + other.sessions_completed,
            self.sessions_failed + other.sessions_failed,
            self.energy_delivered_kwh + other.energy_delivered_kwh,
            self.across_gap_sessions + other.across_gap_sessions,
            self.response_s + other.response_s,
            self.robot_ids | other.robot_ids,
        )

    def state_s(self, state: RobotState) -> float:
        return self.seconds_by_state[state]


@dataclass(frozen=True, slots=True)
class FleetKpis:
    availability_pct: float | None
    utilisation_pct: float | None
    sessions_completed: float
    sessions_failed: float
    charging_success_pct: float | None
    energy_delivered_kwh: float
    energy_delivered_kwh_per_robot: float | None
    response_mean_s: float | None
    response_p90_s: float | None
    responses: int
    observed_s: float  # time with data; 0 means every figure above is "no data"


def p90(values: npt.NDArray[np.float64]) -> float | None:
    """90th percentile, linear interpolation between order statistics (numpy's default, Hyndman-Fan type 7)."""
    if len(values) == 0:
        return None
    return float(np.percentile(values, 90.0))


def fleet_kpis(t: FleetTotals) -> FleetKpis:
    observed = sum(t.seconds_by_state)
    base = observed - t.state_s(RobotState.MAINTENANCE)
    out = t.state_s(RobotState.FAULT) + t.state_s(RobotState.OFFLINE)
    sessions = t.sessions_completed + t.sessions_failed
    resp = np.asarray(t.response_s, dtype=np.float64)
    avail = ratio(base - out, base)
    util = ratio(t.state_s(RobotState.CHARGING), base)
    success = ratio(t.sessions_completed, sessions)
    return FleetKpis(
        availability_pct=None if avail is None else 100.0 * avail,
        utilisation_pct=None if util is None else 100.0 * util,
        sessions_completed=t.sessions_completed,
        sessions_failed=t.sessions_failed,
        charging_success_pct=None if success is None else 100.0 * success,
        energy_delivered_kwh=t.energy_delivered_kwh,
        energy_delivered_kwh_per_robot=ratio(t.energy_delivered_kwh, len(t.robot_ids)),
        response_mean_s=float(resp.mean()) if len(resp) else None,
        response_p90_s=p90(resp),
        responses=len(resp),
        observed_s=observed,
    )
