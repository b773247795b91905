"""Simulated fleet of mobile EV-charging robots served over OPC UA (see docs/simulators-fleet.md)."""

from shopfloor.simulators.fleet.certs import generate_certificate
from shopfloor.simulators.fleet.process import FleetProcess
from shopfloor.simulators.fleet.security import FleetSecurity
from shopfloor.simulators.fleet.server import FleetSimulator
from shopfloor.simulators.fleet.truth import FleetTruth, RobotTruth, SessionOutcome, SessionRecord

__all__ = [
    "FleetProcess",
    "FleetSecurity",
    "FleetSimulator",
    "FleetTruth",
    "RobotTruth",
    "SessionOutcome",
    "SessionRecord",
    "generate_certificate",
]
