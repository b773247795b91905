"""Modbus TCP collector: plan (pure), decode (pure), poller (the only I/O). See docs/collectors-modbus.md."""

from shopfloor.collectors.modbus.poller import ModbusPoller, PollerCounters

__all__ = ["ModbusPoller", "PollerCounters"]
