"""State and quality enumerations shared by simulators, collectors, KPIs and the API.

The codes are part of the data contract: they travel over Modbus and OPC UA as
integers and are stored as numbers, so they never change meaning once
published. New states get new codes.
"""

from __future__ import annotations

from enum import IntEnum


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
