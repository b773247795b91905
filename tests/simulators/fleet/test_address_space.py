"""What a real OPC UA client finds on the simulator: names, node ids, types, identification."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from asyncua import Client, ua

from shopfloor.models.plant import Plant
from shopfloor.simulators.fleet.address_space import DI_NAMESPACE_URI, VARIANT_TYPES, unece_unit_id
from shopfloor.simulators.fleet.server import FleetSimulator
from tests.simulators.fleet._helpers import LOOPBACK, FixedClock, make_plant

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def plant() -> Plant:
    return make_plant()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(plant: Plant) -> AsyncIterator[tuple[FleetSimulator, Client]]:
    async with (
        FleetSimulator(plant, endpoint=LOOPBACK, seed=5, clock=FixedClock()) as sim,
        Client(sim.endpoint, timeout=10) as c,
    ):
        yield sim, c


async def test_robots_browsable_by_name(client: tuple[FleetSimulator, Client], plant: Plant) -> None:
    sim, c = client
    fleet = plant.fleets[0]
    ns = await c.get_namespace_index(fleet.opcua.namespace_uri)
    assert ns == sim.namespace_index
    robots = await c.nodes.objects.get_child(f"{ns}:Robots")
    names = sorted([(await n.read_browse_name()).Name for n in await robots.get_children()])
    assert names == sorted(fleet.robot_browse_name(r) for r in fleet.robots)
    soc = await c.nodes.objects.get_child([f"{ns}:Robots", f"{ns}:R01", f"{ns}:StateOfCharge"])
    assert soc.nodeid == ua.NodeId("Robots.R01.StateOfCharge", ns)


async def test_every_variable_has_the_plant_node_id_and_type(
    client: tuple[FleetSimulator, Client], plant: Plant
) -> None:
    sim, c = client
    fleet = plant.fleets[0]
    ns = sim.namespace_index
    for robot in fleet.robots:
        robot_node = await c.nodes.objects.get_child([f"{ns}:Robots", f"{ns}:{fleet.robot_browse_name(robot)}"])
        for variable in fleet.variables:
            uri, identifier = fleet.node_id(robot, variable)
            assert uri == fleet.opcua.namespace_uri
            expected = ua.NodeId.from_string(f"ns={await c.get_namespace_index(uri)};{identifier}")
            node = await robot_node.get_child(f"{ns}:{variable.browse_name}")
            assert node.nodeid == expected
            dv = await node.read_data_value()
            assert dv.StatusCode.is_good()
            assert dv.Value.VariantType == VARIANT_TYPES[variable.variant_type], variable.name


async def test_identification_and_units(client: tuple[FleetSimulator, Client], plant: Plant) -> None:
    sim, c = client
    fleet = plant.fleets[0]
    ns = sim.namespace_index
    di = await c.get_namespace_index(DI_NAMESPACE_URI)
    robot = fleet.robots[0]
    ident = await c.nodes.objects.get_child([f"{ns}:Robots", f"{ns}:R01", f"{di}:Identification"])
    serial = await (await ident.get_child(f"{di}:SerialNumber")).read_value()
    assert serial == robot.serial_number
    uri = await (await ident.get_child(f"{di}:ProductInstanceUri")).read_value()
    assert robot.id in uri
    for name in ("Manufacturer", "Model"):
        text = await (await ident.get_child(f"{di}:{name}")).read_value()
        assert isinstance(text, ua.LocalizedText) and text.Text
    power = await c.nodes.objects.get_child([f"{ns}:Robots", f"{ns}:R01", f"{ns}:ChargingPower"])
    units = await (await power.get_child("0:EngineeringUnits")).read_value()
    assert units.DisplayName.Text == "kW"
    assert units.UnitId == unece_unit_id("KWT")


async def test_values_are_the_model_values(client: tuple[FleetSimulator, Client]) -> None:
    sim, c = client
    for robot in sim.process.robots:
        values = robot.values()
        for name in ("soc_pct", "state", "position_x_m"):
            served = await c.get_node(sim.node_id(robot.robot_id, name)).read_value()
            assert served == pytest.approx(values[name])


async def test_hundred_robots_are_served() -> None:
    """The benchmark's plant: 100 robots x 9 variables, with ids still from the plant model."""
    plant = make_plant(robots=100)
    async with (
        FleetSimulator(plant, endpoint=LOOPBACK, seed=1, clock=FixedClock()) as sim,
        Client(sim.endpoint, timeout=10) as c,
    ):
        ns = sim.namespace_index
        robots = await c.nodes.objects.get_child(f"{ns}:Robots")
        assert len(await robots.get_children()) == 100
        fleet = plant.fleets[0]
        nodes = [c.get_node(sim.node_id(r.id, v.name)) for r in fleet.robots for v in fleet.variables]
        values = await c.read_values(nodes)
        assert len(values) == 900
        assert values[-1] == sim.process.robots[-1].values()[plant.fleets[0].variables[-1].name]


async def test_absolute_node_ids_from_the_plant_are_honoured() -> None:
    plant = make_plant(robots=2)
    raw = plant.model_dump(mode="json", by_alias=True)
    raw["fleets"][0]["robots"][1]["node_ids"] = {"soc_pct": "nsu=urn:vendor:legacy;i=4711"}
    from shopfloor.models.plant import plant_from_dict

    custom = plant_from_dict(raw)
    async with (
        FleetSimulator(custom, endpoint=LOOPBACK, seed=1, clock=FixedClock()) as sim,
        Client(sim.endpoint, timeout=10) as c,
    ):
        idx = await c.get_namespace_index("urn:vendor:legacy")
        node = c.get_node(ua.NodeId(4711, idx))
        assert await node.read_value() == pytest.approx(sim.process.robots[1].soc_pct)
