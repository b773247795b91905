"""What to monitor and how: a pure function of the plant model, no I/O.

The plan lists every (robot, variable) of a fleet with its node id or its
browse path as the plant file spells it. Node ids only become
:class:`asyncua.ua.NodeId` once the server's namespace array is known
(:func:`resolve_node_ids`), because a namespace *index* can change when a
server restarts; the *uri* cannot. Browse paths need the server itself
(:mod:`collectors.opcua.browse`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt
from asyncua import ua

from shopfloor.models.plant import BrowseName, Fleet, OpcUaEndpoint

# Keep-alive: the server answers an empty publish after this many publishing
# intervals, so silence longer than a few of those means the link is dead.
KEEPALIVE_COUNT = 3
# Lifetime must be at least three keep-alives (OPC UA Part 4, 5.13.2).
LIFETIME_COUNT = KEEPALIVE_COUNT * 10
MAX_QUEUE_SIZE = 100

T = TypeVar("T")


# Stand-in for a browse path not yet translated on this session (never reaches the sink).
NOT_TRANSLATED = "browse path not translated yet"


class PlanError(ValueError):
    """The plant file names a node id that cannot be used; the message says which and why."""


@dataclass(frozen=True, slots=True)
class MonitoredVariable:
    """One robot variable to read: where it is and what a valid value looks like."""

    robot_id: str
    field: str  # variable name in the data contract
    namespace_uri: str | None  # None: node_id is absolute (ns=… or nsu=…)
    node_id: str  # "" when the variable is addressed by browse path
    browse_path: tuple[BrowseName, ...] | None  # from the Root folder; namespace None = namespace_uri
    numeric: bool  # deadband applies only to numeric variables
    min: float | None
    max: float | None


@dataclass(frozen=True, slots=True)
class FleetPlan:
    """Every variable of a fleet in a fixed order; item i has client handle i + 1."""

    fleet_id: str
    items: tuple[MonitoredVariable, ...]
    # Columns parallel to items, so a publish decodes without per-item lookups.
    robot_ids: npt.NDArray[np.object_]
    fields: npt.NDArray[np.object_]
    min_value: npt.NDArray[np.float64]  # -inf where unbounded
    max_value: npt.NDArray[np.float64]  # +inf where unbounded
    browse_indices: tuple[int, ...] = ()  # items addressed by browse path

    def __len__(self) -> int:
        return len(self.items)


def plan_fleet(fleet: Fleet) -> FleetPlan:
    """Every variable of every robot of ``fleet``, addressed by :meth:`Fleet.browse_path` or else
    :meth:`Fleet.node_id`."""
    items = []
    for robot in fleet.robots:
        for variable in fleet.variables:
            path = fleet.browse_path(robot, variable)
            if path is None:
                uri, node_id = fleet.node_id(robot, variable)
                _check_node_id(fleet.id, robot.id, variable.name, uri, node_id)
            else:
                uri, node_id = fleet.opcua.namespace_uri, ""
            items.append(
                MonitoredVariable(
                    robot_id=robot.id,
                    field=variable.name,
                    namespace_uri=uri,
                    node_id=node_id,
                    browse_path=path,
                    numeric=variable.variant_type != "Boolean",
                    min=variable.min,
                    max=variable.max,
                )
            )
    return FleetPlan(
        fleet_id=fleet.id,
        items=tuple(items),
        robot_ids=np.array([i.robot_id for i in items], dtype=object),
        fields=np.array([i.field for i in items], dtype=object),
        min_value=np.array([-math.inf if i.min is None else i.min for i in items], dtype=np.float64),
        max_value=np.array([math.inf if i.max is None else i.max for i in items], dtype=np.float64),
        browse_indices=tuple(k for k, i in enumerate(items) if i.browse_path is not None),
    )


def _check_node_id(fleet_id: str, robot_id: str, field: str, uri: str | None, node_id: str) -> None:
    where = f"fleet {fleet_id!r}, robot {robot_id!r}, variable {field!r}"
    try:
        parsed = ua.NodeId.from_string(node_id)
    except (ua.UaStringParsingError, ValueError) as exc:
        raise PlanError(f"{where}: node id {node_id!r} cannot be parsed ({exc})") from None
    if uri is not None and (parsed.NamespaceIndex != 0 or isinstance(parsed, ua.ExpandedNodeId)):
        raise PlanError(
            f"{where}: node_id_template gives {node_id!r}; inside namespace_uri it must not name a namespace"
        )


def resolve_node_ids(plan: FleetPlan, namespace_array: Sequence[str]) -> list[ua.NodeId | str]:
    """Node id of each item for this server session, or why it cannot be resolved (a text).

    An unknown namespace uri is not fatal: the item is reported bad and
    retried, as the server may register the namespace a moment later.
    Items addressed by browse path get :data:`NOT_TRANSLATED` here; the
    collector replaces it with what the server translates the path to.
    """
    index = {uri: i for i, uri in enumerate(namespace_array)}
    out: list[ua.NodeId | str] = []
    for item in plan.items:
        if item.browse_path is not None:
            out.append(NOT_TRANSLATED)
            continue
        parsed = ua.NodeId.from_string(item.node_id)
        uri = item.namespace_uri
        if isinstance(parsed, ua.ExpandedNodeId) and parsed.NamespaceUri:
            uri = parsed.NamespaceUri
        if uri is None:
            out.append(ua.NodeId(parsed.Identifier, parsed.NamespaceIndex, parsed.NodeIdType))
        elif uri in index:
            out.append(ua.NodeId(parsed.Identifier, index[uri], parsed.NodeIdType))  # type: ignore[arg-type]  # asyncua's ua.Int16 marker type stands for int
        else:
            out.append(f"namespace {uri!r} is not in the server's namespace array")
    return out


def batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most ``size`` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True, slots=True)
class Timing:
    """Subscription parameters and the watchdog derived from the endpoint settings."""

    publishing_interval_ms: float
    sampling_interval_ms: float
    queue_size: int
    keepalive_count: int
    lifetime_count: int
    stall_timeout_s: float  # silence after which the link counts as lost


def timing(
    endpoint: OpcUaEndpoint,
    revised_publishing_interval_ms: float | None = None,
    revised_keepalive_count: int | None = None,
) -> Timing:
    """Queue enough samples to cover one publishing interval; watchdog a few keep-alives long.

    Pass the server's revised interval and keep-alive count to get the
    watchdog the server will actually honour.
    """
    publishing_ms = revised_publishing_interval_ms or endpoint.publishing_interval_ms
    keepalive = revised_keepalive_count or KEEPALIVE_COUNT
    sampling_ms = endpoint.sampling_interval_ms
    queue = 1 if sampling_ms <= 0 else math.ceil(publishing_ms / sampling_ms)
    # Two missed keep-alives plus one request timeout: long enough that a busy
    # machine does not flap, short enough to notice a stalled server quickly.
    stall_s = 2 * keepalive * publishing_ms / 1000.0 + endpoint.timeout_s
    return Timing(
        publishing_interval_ms=publishing_ms,
        sampling_interval_ms=sampling_ms,
        queue_size=max(1, min(queue, MAX_QUEUE_SIZE)),
        keepalive_count=keepalive,
        lifetime_count=max(LIFETIME_COUNT, 3 * keepalive),
        stall_timeout_s=stall_s,
    )
