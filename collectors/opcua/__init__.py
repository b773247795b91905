"""OPC UA collector for the EV-charging robot fleets (see docs/collectors-opcua.md)."""

from shopfloor.collectors.opcua.collector import OpcUaFleetCollector
from shopfloor.collectors.opcua.plan import PlanError
from shopfloor.collectors.opcua.session import ConnectError
from shopfloor.collectors.opcua.stats import CollectorStats

__all__ = ["CollectorStats", "ConnectError", "OpcUaFleetCollector", "PlanError"]
