"""Simulated MSO-CPP printing line served over Modbus TCP (see docs/simulators-printer.md)."""
