"""OPC UA collector for the EV-charging robot fleets (see docs/collectors-opcua.md)."""

from collectors.opcua.collector import OpcUaFleetCollector
from collectors.opcua.plan import PlanError
from collectors.opcua.session import ConnectError
from collectors.opcua.stats import CollectorStats

__all__ = ["CollectorStats", "ConnectError", "OpcUaFleetCollector", "PlanError"]
