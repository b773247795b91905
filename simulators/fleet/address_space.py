"""The fleet's OPC UA address space, built from the plant model alone.

::

    Objects
    └── Robots                      (FolderType, our namespace)
        └── R01                     (one object per robot: Fleet.robot_browse_name)
            ├── Identification      (DI namespace, as OPC 40001-1 Machinery does)
            │   ├── Manufacturer, Model            LocalizedText
            │   └── SerialNumber, ProductInstanceUri String
            ├── State               node id from Fleet.node_id(robot, variable)
            ├── StateOfCharge       (+ EngineeringUnits where the plant declares a unit)
            └── …

Node ids of variables come only from ``Fleet.node_id`` so the collector,
which reads the same plant model, finds exactly these nodes.
"""

from __future__ import annotations

from dataclasses import dataclass

from asyncua import Node, Server, ua

from shopfloor.models.plant import Fleet, Robot, RobotVariable

DI_NAMESPACE_URI = "http://opcfoundation.org/UA/DI/"
UNECE_NAMESPACE_URI = "http://www.opcfoundation.org/UA/units/un/cefact"
MANUFACTURER = "Shopfloor simulator"

# UNECE Recommendation 20 codes of the units the fleet's variables use (OPC UA Part 8 §5.6.3).
UNECE_CODES = {"%": "P1", "kW": "KWT", "kWh": "KWH", "m": "MTR", "m/s": "MTS", "s": "SEC"}

VARIANT_TYPES: dict[str, ua.VariantType] = {
    "Double": ua.VariantType.Double,
    "Float": ua.VariantType.Float,
    "UInt16": ua.VariantType.UInt16,
    "UInt32": ua.VariantType.UInt32,
    "Int32": ua.VariantType.Int32,
    "Boolean": ua.VariantType.Boolean,
}
_INTEGER_TYPES = (ua.VariantType.UInt16, ua.VariantType.UInt32, ua.VariantType.Int32)


@dataclass(frozen=True)
class RobotNodes:
    robot_id: str
    browse_name: str
    object_id: ua.NodeId
    variables: dict[str, ua.NodeId]  # data-contract field name -> node id
    variant_types: dict[str, ua.VariantType]


def to_variant(value: float | int | bool, variant_type: ua.VariantType) -> ua.Variant:
    """A model value as the variable's declared type (integers are rounded, not truncated)."""
    if variant_type in _INTEGER_TYPES:
        return ua.Variant(round(value), variant_type)
    if variant_type is ua.VariantType.Boolean:
        return ua.Variant(bool(value), variant_type)
    return ua.Variant(float(value), variant_type)


def unece_unit_id(code: str) -> int:
    """UnitId of an EUInformation: the code's characters packed into an Int32 (OPC UA Part 8)."""
    unit_id = 0
    for char in code:
        unit_id = (unit_id << 8) | ord(char)
    return unit_id


def engineering_units(unit: str) -> ua.EUInformation | None:
    code = UNECE_CODES.get(unit)
    if code is None:
        return None
    return ua.EUInformation(
        NamespaceUri=UNECE_NAMESPACE_URI,
        UnitId=unece_unit_id(code),
        DisplayName=ua.LocalizedText(unit),
        Description=ua.LocalizedText(unit),
    )


def _node_id(identifier: int | str, namespace_index: int) -> ua.NodeId:
    # asyncua annotates NodeId's fields with its encoding marker classes (ua.Int32, ua.String, ua.Int16)
    return ua.NodeId(identifier, namespace_index)  # type: ignore[arg-type]  # plain int/str are what it takes


async def resolve_node_id(server: Server, namespace_uri: str | None, identifier: str) -> ua.NodeId:
    """A node id from Fleet.node_id: (namespace uri, "s=…") or an absolute "ns=…;…" / "nsu=…;…"."""
    if namespace_uri is not None:
        return ua.NodeId.from_string(f"ns={await server.get_namespace_index(namespace_uri)};{identifier}")
    if identifier.startswith("nsu="):
        uri, sep, rest = identifier[4:].partition(";")
        if not sep:
            raise ValueError(f"node id {identifier!r}: expected 'nsu=<uri>;<identifier>'")
        return ua.NodeId.from_string(f"ns={await server.register_namespace(uri)};{rest}")
    node_id = ua.NodeId.from_string(identifier)
    namespaces = await server.get_namespace_array()
    if node_id.NamespaceIndex >= len(namespaces):
        raise ValueError(
            f"node id {identifier!r} names namespace index {node_id.NamespaceIndex}, but the simulator only has"
            f" {len(namespaces)} namespaces; use 'nsu=<uri>;…' in the plant file instead"
        )
    return node_id


async def _add_identification(
    fleet: Fleet, robot: Robot, robot_node: Node, object_id: ua.NodeId, di_index: int
) -> None:
    assert isinstance(object_id.Identifier, str)  # build_address_space gives every robot a string node id
    ident_name = f"{object_id.Identifier}.Identification"
    ident_id = _node_id(ident_name, object_id.NamespaceIndex)
    ident = await robot_node.add_object(ident_id, ua.QualifiedName("Identification", di_index))
    properties = (
        ("Manufacturer", ua.Variant(ua.LocalizedText(MANUFACTURER), ua.VariantType.LocalizedText)),
        (
            "Model",
            ua.Variant(
                ua.LocalizedText(f"Mobile EV charger {fleet.rated_power_kw:g} kW / {fleet.battery_capacity_kwh:g} kWh"),
                ua.VariantType.LocalizedText,
            ),
        ),
        ("SerialNumber", ua.Variant(robot.serial_number or robot.id, ua.VariantType.String)),
        ("ProductInstanceUri", ua.Variant(f"{fleet.opcua.namespace_uri}:robot:{robot.id}", ua.VariantType.String)),
    )
    for name, value in properties:
        prop_id = _node_id(f"{ident_name}.{name}", object_id.NamespaceIndex)
        await ident.add_property(prop_id, ua.QualifiedName(name, di_index), value)


async def _add_variable(robot_node: Node, node_id: ua.NodeId, variable: RobotVariable, ns_index: int) -> ua.VariantType:
    variant_type = VARIANT_TYPES[variable.variant_type]
    node = await robot_node.add_variable(
        node_id, ua.QualifiedName(variable.browse_name, ns_index), to_variant(0, variant_type), variant_type
    )
    units = engineering_units(variable.unit)
    if units is not None:
        if isinstance(node_id.Identifier, str):
            units_id = _node_id(f"{node_id.Identifier}.EngineeringUnits", node_id.NamespaceIndex)
        else:
            units_id = _node_id(0, node_id.NamespaceIndex)  # a non-string node id: the server numbers it
        await node.add_property(
            units_id, ua.QualifiedName("EngineeringUnits", 0), ua.Variant(units, ua.VariantType.ExtensionObject)
        )
    return variant_type


async def build_address_space(server: Server, fleet: Fleet) -> tuple[int, dict[str, RobotNodes]]:
    """Create Objects/Robots/<robot>/… on an initialised server; return (namespace index, nodes by robot id)."""
    ns_index = await server.register_namespace(fleet.opcua.namespace_uri)
    di_index = await server.register_namespace(DI_NAMESPACE_URI)
    robots_folder = await server.nodes.objects.add_folder(
        _node_id("Robots", ns_index), ua.QualifiedName("Robots", ns_index)
    )
    nodes: dict[str, RobotNodes] = {}
    for robot in fleet.robots:
        browse_name = fleet.robot_browse_name(robot)
        object_id = _node_id(f"Robots.{browse_name}", ns_index)
        robot_node = await robots_folder.add_object(object_id, ua.QualifiedName(browse_name, ns_index))
        await robot_node.write_attribute(
            ua.AttributeIds.Description, ua.DataValue(ua.Variant(ua.LocalizedText(robot.name)))
        )
        await _add_identification(fleet, robot, robot_node, object_id, di_index)
        variables: dict[str, ua.NodeId] = {}
        types: dict[str, ua.VariantType] = {}
        for variable in fleet.variables:
            node_id = await resolve_node_id(server, *fleet.node_id(robot, variable))
            try:
                types[variable.name] = await _add_variable(robot_node, node_id, variable, ns_index)
            except ua.UaStatusCodeError as exc:
                raise ValueError(
                    f"robot {robot.id!r} variable {variable.name!r}: cannot create node {node_id.to_string()}: {exc}"
                ) from exc
            variables[variable.name] = node_id
        nodes[robot.id] = RobotNodes(robot.id, browse_name, object_id, variables, types)
    return ns_index, nodes
