"""Simulated fleet of mobile EV-charging robots served over OPC UA (see docs/simulators-fleet.md)."""

from simulators.fleet.certs import generate_certificate
from simulators.fleet.process import FleetProcess
from simulators.fleet.security import FleetSecurity
from simulators.fleet.server import FleetSimulator
from simulators.fleet.truth import FleetTruth, RobotTruth, SessionOutcome, SessionRecord

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
