"""Robot fleets on OPC UA: the endpoint and its security, the variables, and how each robot
variable is addressed (node id template, browse path, or an id written in full)."""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal, NamedTuple

from pydantic import Field, StringConstraints, model_validator

from shopfloor.models.contract import ROBOT_FIELD_NAMES
from shopfloor.models.plant.common import (
    FieldName,
    FiniteFloat,
    Identifier,
    NonNegativeFloat,
    PositiveFloat,
    StrictModel,
    by_key,
)


class SecurityPolicy(StrEnum):
    NONE = "None"
    BASIC256SHA256 = "Basic256Sha256"


class SecurityMode(StrEnum):
    NONE = "None"
    SIGN = "Sign"
    SIGN_AND_ENCRYPT = "SignAndEncrypt"


class OpcUaEndpoint(StrictModel):
    endpoint: Annotated[str, StringConstraints(pattern=r"^opc\.tcp://[^/\s]+(:\d+)?(/\S*)?$")]
    namespace_uri: str = "urn:shopfloor:ev-charging-robots"
    security_policy: SecurityPolicy = SecurityPolicy.NONE
    security_mode: SecurityMode = SecurityMode.NONE
    username: str | None = None
    # The password itself never sits in the plant file: name the environment variable.
    password_env: str | None = None
    client_certificate: Path | None = None
    client_private_key: Path | None = None
    server_certificate: Path | None = None  # trusted server certificate (pinning)
    sampling_interval_ms: NonNegativeFloat = 1000.0
    publishing_interval_ms: PositiveFloat = 1000.0
    deadband_abs: NonNegativeFloat | None = None
    subscribe_batch_size: Annotated[int, Field(ge=1, le=10000)] = 500
    timeout_s: PositiveFloat = 4.0
    # Longest wait between reconnect attempts (see ModbusEndpoint.reconnect_max_s).
    reconnect_max_s: Annotated[float, Field(gt=0, le=3600)] = 1.0
    # Read the variables on a cadence when the server cannot subscribe.
    poll_fallback: bool = True

    @model_validator(mode="after")
    def _security_consistent(self) -> OpcUaEndpoint:
        if (self.security_policy is SecurityPolicy.NONE) != (self.security_mode is SecurityMode.NONE):
            raise ValueError(
                "security_policy and security_mode go together: both 'None', or a policy such as"
                " 'Basic256Sha256' with mode 'Sign' or 'SignAndEncrypt'"
            )
        if (self.client_certificate is None) != (self.client_private_key is None):
            raise ValueError("client_certificate and client_private_key go together")
        if self.security_policy is not SecurityPolicy.NONE and self.client_certificate is None:
            raise ValueError(f"security_policy {self.security_policy.value!r} needs client_certificate and key")
        if self.password_env is not None and self.username is None:
            raise ValueError("password_env is set but username is not")
        return self


def opcua_password(endpoint: OpcUaEndpoint, env: Mapping[str, str]) -> str | None:
    """The password of ``endpoint.username``: the value in ``env`` of the variable ``password_env`` names.

    None when no variable is named or it is not set. A process resolves it once where it starts, from
    its own environment, and hands it to the collector or simulator; the plant model never holds it.
    """
    if endpoint.password_env is None:
        return None
    return env.get(endpoint.password_env)


OpcUaVariantType = Literal["Double", "Float", "UInt16", "UInt32", "Int32", "Boolean"]


class RobotVariable(StrictModel):
    name: FieldName  # field name in the data contract
    browse_name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")]
    unit: str = ""
    variant_type: OpcUaVariantType = "Double"
    min: FiniteFloat | None = None
    max: FiniteFloat | None = None


def default_robot_variables() -> list[RobotVariable]:
    return [
        RobotVariable(name="state", browse_name="State", variant_type="UInt16", min=0, max=9),
        RobotVariable(name="soc_pct", browse_name="StateOfCharge", unit="%", min=0, max=100),
        RobotVariable(name="charging_power_kw", browse_name="ChargingPower", unit="kW", min=0, max=1000),
        RobotVariable(name="energy_delivered_kwh_total", browse_name="EnergyDelivered", unit="kWh", min=0),
        RobotVariable(name="sessions_completed_total", browse_name="SessionsCompleted", variant_type="UInt32", min=0),
        RobotVariable(name="sessions_failed_total", browse_name="SessionsFailed", variant_type="UInt32", min=0),
        RobotVariable(name="position_x_m", browse_name="PositionX", unit="m"),
        RobotVariable(name="position_y_m", browse_name="PositionY", unit="m"),
        RobotVariable(name="error_code", browse_name="ErrorCode", variant_type="UInt32", min=0),
    ]


class BrowseName(NamedTuple):
    """One element of a browse path: a browse name and its namespace.

    ``namespace`` is a namespace index, or None for the fleet's ``namespace_uri``,
    whose index is looked up on the server at connect time (it may change when
    the server restarts; the uri does not).
    """

    namespace: int | None
    name: str


NS_PLACEHOLDER = "{ns}"
# A colon in a name is refused: "nsu:Robots" or "ns=2:Robots" are typos of a prefix, not browse names.
_BROWSE_ELEMENT = re.compile(r"^(?:(\d+|\{ns\}):)?([^/:{}]+)$")


def parse_browse_path(text: str, what: str = "browse path") -> tuple[BrowseName, ...]:
    """``Objects/{ns}:Robots/{ns}:R01/{ns}:State`` -> browse names from the Root folder.

    Elements are separated by ``/`` (a leading ``/`` is allowed); each is
    ``[<prefix>:]<browse name>`` where the prefix is a namespace index (``2:``,
    as OPC UA tools show it) or ``{ns}:`` for ``namespace_uri``; no prefix is
    namespace 0 (the standard nodes such as ``Objects``). Raises ValueError
    whose message starts with ``what`` and the text.
    """
    body = text[1:] if text.startswith("/") else text
    if not body:
        raise ValueError(f"{what} {text!r} is empty")
    out = []
    for element in body.split("/"):
        match = _BROWSE_ELEMENT.match(element)
        if match is None or not match.group(2).strip():
            raise ValueError(
                f"{what} {text!r}: element {element!r} is not '<name>', '<namespace index>:<name>' or '{{ns}}:<name>'"
            )
        prefix, name = match.groups()
        namespace = None if prefix == NS_PLACEHOLDER else int(prefix or 0)
        out.append(BrowseName(namespace, name))
    return tuple(out)


def _check_placeholders(text: str, allowed: set[str], what: str) -> None:
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:
        raise ValueError(f"{what} {text!r}: {exc}") from None
    unknown = sorted(names - allowed)
    if unknown:
        shown = ", ".join("{" + n + "}" for n in unknown)
        expected = ", ".join("{" + n + "}" for n in sorted(allowed))
        raise ValueError(f"{what} {text!r}: unknown placeholder {shown} (allowed: {expected})")


class Robot(StrictModel):
    id: Identifier
    name: str
    name_zh: str
    serial_number: str = ""
    # variable name -> node id written in full ("ns=3;i=1001" or "nsu=urn:x;s=..."),
    # for robots whose server does not follow the fleet's template.
    node_ids: dict[str, str] = Field(default_factory=dict)
    # variable name -> browse path from the Root folder ("Objects/{ns}:Robots/{ns}:Dock7/{ns}:SoC"),
    # resolved to a node id by the collector on every new session.
    browse_paths: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _browse_paths_valid(self) -> Robot:
        both = sorted(set(self.node_ids) & set(self.browse_paths))
        if both:
            raise ValueError(f"robot {self.id!r}: variables {both} are in node_ids and browse_paths; give one")
        for name, path in self.browse_paths.items():
            what = f"robot {self.id!r}: browse_paths.{name}"
            _check_placeholders(path, {"ns"}, what)
            parse_browse_path(path, what)
        return self


DEFAULT_NODE_ID_TEMPLATE = "s=Robots.{robot}.{variable}"


class Fleet(StrictModel):
    id: Identifier
    name: str
    name_zh: str
    opcua: OpcUaEndpoint
    rated_power_kw: PositiveFloat = 40.0
    battery_capacity_kwh: PositiveFloat = 80.0
    # A robot whose state of charge is below this is shown as low on the display and counted in the
    # fleet's summary (a fact of this fleet's batteries, so declared here, not in the page); it is also the
    # level of a robot_charge_low alert rule that sets no charge_below_pct of its own.
    low_charge_pct: Annotated[float, Field(gt=0, lt=100)] = 25.0
    # String node id inside namespace_uri; {robot} is the robot's browse name
    # (its id in upper case) and {variable} the variable's browse name.
    node_id_template: str = DEFAULT_NODE_ID_TEMPLATE
    # Address the variables by browse path instead: "Objects/{ns}:Robots/{ns}:{robot}/{ns}:{variable}".
    browse_path_template: str | None = None
    variables: list[RobotVariable] = Field(default_factory=default_robot_variables)
    robots: Annotated[list[Robot], Field(min_length=1)]

    @model_validator(mode="after")
    def _complete(self) -> Fleet:
        names = [v.name for v in self.variables]
        missing = sorted(ROBOT_FIELD_NAMES - set(names))
        if missing:
            raise ValueError(f"missing required robot variables: {', '.join(missing)}")
        if len(set(names)) != len(names):
            raise ValueError("robot variable names must be unique")
        ids = [r.id for r in self.robots]
        if len(set(ids)) != len(ids):
            raise ValueError("robot ids must be unique within a fleet")
        for robot in self.robots:
            for key, table in (("node_ids", robot.node_ids), ("browse_paths", robot.browse_paths)):
                unknown = sorted(set(table) - set(names))
                if unknown:
                    raise ValueError(f"robot {robot.id!r}: {key} names unknown variables {unknown}")
        if "{robot}" not in self.node_id_template or "{variable}" not in self.node_id_template:
            raise ValueError("node_id_template must contain {robot} and {variable}")
        if self.browse_path_template is not None:
            self._check_browse_path_template(self.browse_path_template)
        return self

    def _check_browse_path_template(self, template: str) -> None:
        if self.node_id_template != DEFAULT_NODE_ID_TEMPLATE:
            # A custom node id template next to a browse path template: which one is meant would be a guess.
            # (The default is accepted: plant files copied from the built-in one carry it.)
            raise ValueError("give a custom node_id_template or browse_path_template, not both")
        _check_placeholders(template, {"robot", "variable", "ns"}, "browse_path_template")
        if "{robot}" not in template or "{variable}" not in template:
            raise ValueError(f"browse_path_template {template!r} must contain {{robot}} and {{variable}}")
        # Robot and variable browse names are plain names, so any bad element is the template's own.
        try:
            parse_browse_path(template.format(robot="R", variable="V", ns=NS_PLACEHOLDER))
        except ValueError as exc:
            raise ValueError(f"browse_path_template {template!r}: {str(exc).split(': ', 1)[-1]}") from None

    @staticmethod
    def robot_browse_name(robot: Robot) -> str:
        return robot.id.upper()

    def browse_path(self, robot: Robot, variable: RobotVariable) -> tuple[BrowseName, ...] | None:
        """Browse path of one robot variable, or None when it is addressed by node id.

        A robot's own entries win over the fleet's templates: ``node_ids`` over
        ``browse_path_template``, ``browse_paths`` over ``node_id_template``.
        """
        if variable.name in robot.node_ids:
            return None
        if variable.name in robot.browse_paths:
            return parse_browse_path(robot.browse_paths[variable.name])
        if self.browse_path_template is None:
            return None
        return parse_browse_path(
            self.browse_path_template.format(
                robot=self.robot_browse_name(robot), variable=variable.browse_name, ns=NS_PLACEHOLDER
            )
        )

    def node_id(self, robot: Robot, variable: RobotVariable) -> tuple[str | None, str]:
        """(namespace uri or None if absolute, node id string) of one robot variable.

        This is also where the simulator serves the variable; the collector
        uses it only when :meth:`browse_path` gives None.
        """
        if variable.name in robot.node_ids:
            return None, robot.node_ids[variable.name]
        identifier = self.node_id_template.format(robot=self.robot_browse_name(robot), variable=variable.browse_name)
        return self.opcua.namespace_uri, identifier

    def variable(self, name: str) -> RobotVariable:
        return by_key(self.variables, name, lambda v: v.name, f"fleet {self.id!r} has no variable {name!r}")
