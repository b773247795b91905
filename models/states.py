"""State and quality enumerations shared by simulators, collectors, KPIs and the API.

The codes are part of the data contract: they travel over Modbus and OPC UA as
integers and are stored as numbers, so they never change meaning once
published. New states get new codes.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class PrinterState(IntEnum):
    """Machine state of a printing line.

    Modelled on PackML (ISA-TR88.00.02) and the OPC UA Machinery
    MachineryItemState / MachineryOperationMode vocabulary, reduced to the
    states a gravure line actually reports. How each state maps to the
    ISO 22400-2 time elements is in ``models.kpi.time_model`` and docs/.
    """

    STOPPED = 0  # powered, not producing, no order (PackML Stopped)
    IDLE = 1  # ready, waiting for material or an order (PackML Idle)
    SETUP = 2  # changeover: cylinder, colour or fabric change (Machinery: setup)
    RUNNING = 3  # printing (PackML Execute; Machinery: Executing)
    HELD = 4  # paused by an internal condition or the operator (PackML Held)
    SUSPENDED = 5  # starved or blocked by up/downstream (PackML Suspended)
    FAULT = 6  # stopped by a fault (PackML Aborted; Machinery: OutOfService)
    MAINTENANCE = 7  # planned maintenance (Machinery operation mode Maintenance)
    OFFLINE = 8  # powered off / not reachable on purpose (Machinery: NotAvailable)


class RobotState(IntEnum):
    """State of a mobile EV-charging robot."""

    IDLE = 0  # parked at its base, charged enough to serve
    DISPATCHED = 1  # assigned to a car, about to move
    DRIVING = 2  # on its way to the car
    CONNECTING = 3  # docking / plugging in and handshaking with the car
    CHARGING = 4  # delivering energy to a car
    RETURNING = 5  # driving back to base
    SELF_CHARGING = 6  # recharging its own battery at base
    FAULT = 7  # out of service by a fault
    OFFLINE = 8  # not reachable / switched off
    MAINTENANCE = 9  # planned maintenance; excluded from availability


class Quality(IntEnum):
    """Quality of one sample. Only GOOD samples carry a value."""

    GOOD = 0
    BAD_NO_COMMUNICATION = 1  # request timed out or the connection is down
    BAD_DEVICE_EXCEPTION = 2  # the device answered with a Modbus exception
    BAD_STATUS = 3  # the server sent a bad OPC UA status code
    BAD_OUT_OF_RANGE = 4  # decoded, but outside the signal's declared range
    BAD_DECODE = 5  # the raw value cannot be a number (NaN, inf, short read)
    UNCERTAIN = 6  # OPC UA uncertain status: stored as quality, not as value


PRINTER_STATE_LABELS: dict[PrinterState, tuple[str, str]] = {
    PrinterState.STOPPED: ("Stopped", "停机"),
    PrinterState.IDLE: ("Idle", "待机"),
    PrinterState.SETUP: ("Setup / changeover", "换版调机"),
    PrinterState.RUNNING: ("Running", "运行"),
    PrinterState.HELD: ("Held", "暂停"),
    PrinterState.SUSPENDED: ("Starved / blocked", "待料/堵料"),
    PrinterState.FAULT: ("Fault", "故障"),
    PrinterState.MAINTENANCE: ("Maintenance", "计划维护"),
    PrinterState.OFFLINE: ("Offline", "离线"),
}

ROBOT_STATE_LABELS: dict[RobotState, tuple[str, str]] = {
    RobotState.IDLE: ("Idle", "空闲"),
    RobotState.DISPATCHED: ("Dispatched", "已派单"),
    RobotState.DRIVING: ("Driving", "行驶中"),
    RobotState.CONNECTING: ("Connecting", "连接中"),
    RobotState.CHARGING: ("Charging", "充电中"),
    RobotState.RETURNING: ("Returning", "返回中"),
    RobotState.SELF_CHARGING: ("Self-charging", "自充电"),
    RobotState.FAULT: ("Fault", "故障"),
    RobotState.OFFLINE: ("Offline", "离线"),
    RobotState.MAINTENANCE: ("Maintenance", "计划维护"),
}


class StateFamily(StrEnum):
    """What a state means to a person across the room: one colour per family on every tile.

    The display colours states by family, never by code, so a new state code
    only needs a row in the tables below (and the page is told through the API).
    """

    RUN = "run"  # producing / serving a car: what the equipment is for
    MOVE = "move"  # a robot on its way to or from a car
    SETUP = "setup"  # changeover, or a robot recharging itself: needed, not producing
    IDLE = "idle"  # ready, waiting for work
    WARN = "warn"  # held, starved or blocked: stopped, someone should look
    FAULT = "fault"  # out of service by a fault
    PLAN = "plan"  # planned maintenance
    OFF = "off"  # switched off, not reachable, or a code this version does not know


STATE_FAMILY_LABELS: dict[StateFamily, tuple[str, str]] = {
    StateFamily.RUN: ("Working", "作业中"),
    StateFamily.MOVE: ("Moving", "移动中"),
    StateFamily.SETUP: ("Setup / self-charging", "调机/自充电"),
    StateFamily.IDLE: ("Idle", "空闲"),
    StateFamily.WARN: ("Held / starved", "暂停/待料"),
    StateFamily.FAULT: ("Fault", "故障"),
    StateFamily.PLAN: ("Maintenance", "计划维护"),
    StateFamily.OFF: ("Offline", "离线"),
}

PRINTER_STATE_FAMILY: dict[PrinterState, StateFamily] = {
    PrinterState.STOPPED: StateFamily.IDLE,
    PrinterState.IDLE: StateFamily.IDLE,
    PrinterState.SETUP: StateFamily.SETUP,
    PrinterState.RUNNING: StateFamily.RUN,
    PrinterState.HELD: StateFamily.WARN,
    PrinterState.SUSPENDED: StateFamily.WARN,
    PrinterState.FAULT: StateFamily.FAULT,
    PrinterState.MAINTENANCE: StateFamily.PLAN,
    PrinterState.OFFLINE: StateFamily.OFF,
}

ROBOT_STATE_FAMILY: dict[RobotState, StateFamily] = {
    RobotState.IDLE: StateFamily.IDLE,
    RobotState.DISPATCHED: StateFamily.MOVE,
    RobotState.DRIVING: StateFamily.MOVE,
    RobotState.CONNECTING: StateFamily.MOVE,
    RobotState.CHARGING: StateFamily.RUN,
    RobotState.RETURNING: StateFamily.MOVE,
    RobotState.SELF_CHARGING: StateFamily.SETUP,
    RobotState.FAULT: StateFamily.FAULT,
    RobotState.OFFLINE: StateFamily.OFF,
    RobotState.MAINTENANCE: StateFamily.PLAN,
}


def state_family(kind: str, code: int | None) -> StateFamily:
    """The family of a printer's or a robot's state code; unknown or missing codes are OFF (grey), not hidden."""
    if code is None:
        return StateFamily.OFF
    try:
        if kind == "printer":
            return PRINTER_STATE_FAMILY[PrinterState(code)]
        return ROBOT_STATE_FAMILY[RobotState(code)]
    except ValueError:
        return StateFamily.OFF
