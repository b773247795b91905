"""Pure parts: status/value → quality, timestamp fallback, node-id planning and resolution."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from asyncua import ua

from shopfloor.collectors.opcua.browse import path_text
from shopfloor.collectors.opcua.decode import decode_values, status_name
from shopfloor.collectors.opcua.plan import NOT_TRANSLATED, PlanError, batches, plan_fleet, resolve_node_ids, timing
from shopfloor.models.calendar import to_ns
from shopfloor.models.plant import Fleet
from shopfloor.models.states import Quality
from tests.collectors.opcua.conftest import fleet_variant

SOURCE = dt.datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=dt.UTC)
SERVER = dt.datetime(2026, 3, 1, 12, 0, 1, tzinfo=dt.UTC)
RECEIVED_NS = to_ns(dt.datetime(2026, 3, 1, 12, 0, 2, tzinfo=dt.UTC))

# (field, raw value, variant type, status, expected quality, expected value or None, detail contains)
CASES = [
    ("soc_pct", 55.5, ua.VariantType.Double, "Good", Quality.GOOD, 55.5, ""),
    ("state", 4, ua.VariantType.UInt16, "Good", Quality.GOOD, 4.0, ""),
    ("soc_pct", 100.0, ua.VariantType.Double, "Good", Quality.GOOD, 100.0, ""),  # bounds are inclusive
    ("soc_pct", 100.5, ua.VariantType.Double, "Good", Quality.BAD_OUT_OF_RANGE, None, "outside [0, 100]"),
    ("charging_power_kw", -1.0, ua.VariantType.Double, "Good", Quality.BAD_OUT_OF_RANGE, None, "outside"),
    ("position_x_m", -1e6, ua.VariantType.Double, "Good", Quality.GOOD, -1e6, ""),  # no bounds declared
    ("soc_pct", math.nan, ua.VariantType.Double, "Good", Quality.BAD_DECODE, None, "finite"),
    ("soc_pct", math.inf, ua.VariantType.Double, "Good", Quality.BAD_DECODE, None, "finite"),
    ("soc_pct", "full", ua.VariantType.String, "Good", Quality.BAD_DECODE, None, "str"),
    ("soc_pct", None, ua.VariantType.Null, "Good", Quality.BAD_DECODE, None, "NoneType"),
    ("soc_pct", True, ua.VariantType.Boolean, "Good", Quality.GOOD, 1.0, ""),
    ("soc_pct", 50.0, ua.VariantType.Double, "BadSensorFailure", Quality.BAD_STATUS, None, "BadSensorFailure"),
    ("soc_pct", None, ua.VariantType.Null, "BadNodeIdUnknown", Quality.BAD_STATUS, None, "BadNodeIdUnknown"),
    ("soc_pct", 50.0, ua.VariantType.Double, "UncertainLastUsableValue", Quality.UNCERTAIN, None, "LastUsable"),
    ("soc_pct", 500.0, ua.VariantType.Double, "UncertainSensorNotAccurate", Quality.UNCERTAIN, None, "Uncertain"),
]


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    return fleet_variant(2)


@pytest.mark.parametrize(("field", "raw", "vtype", "status", "quality", "value", "detail"), CASES)
def test_status_and_value_map_to_quality(
    fleet: Fleet,
    field: str,
    raw: object,
    vtype: ua.VariantType,
    status: str,
    quality: Quality,
    value: float | None,
    detail: str,
) -> None:
    plan = plan_fleet(fleet)
    index = next(i for i, item in enumerate(plan.items) if item.field == field and item.robot_id == "r002")
    dv = ua.DataValue(
        ua.Variant(raw, vtype), StatusCode=ua.StatusCode(getattr(ua.StatusCodes, status)), SourceTimestamp=SOURCE
    )
    batch = decode_values(plan, [index], [dv], RECEIVED_NS)
    assert (batch.equipment[0], batch.field[0], batch.fleet) == ("r002", field, fleet.id)
    assert batch.quality[0] == quality
    assert detail in batch.detail[0]
    if value is None:
        assert math.isnan(batch.value[0])
    else:
        assert batch.value[0] == value


@pytest.mark.parametrize(
    ("source", "server", "expected_ns"),
    [
        (SOURCE, SERVER, to_ns(SOURCE)),
        (None, SERVER, to_ns(SERVER)),
        (None, None, RECEIVED_NS),
        (dt.datetime(1601, 1, 1, tzinfo=dt.UTC), None, RECEIVED_NS),  # OPC UA's "no time"
    ],
)
def test_timestamp_falls_back_from_source_to_server_to_receipt(fleet: Fleet, source, server, expected_ns) -> None:
    plan = plan_fleet(fleet)
    dv = ua.DataValue(ua.Variant(1.0, ua.VariantType.Double), SourceTimestamp=source, ServerTimestamp=server)
    assert decode_values(plan, [1], [dv], RECEIVED_NS).ts_ns[0] == expected_ns


def test_status_names_ignore_info_bits() -> None:
    overflow_bit = 0x0480  # the info bits a server may set on a Good value
    assert status_name(ua.StatusCodes.BadSensorFailure | overflow_bit) == "BadSensorFailure"
    assert status_name(0x80FF0000) == "0x80FF0000"


def test_plan_uses_the_fleet_node_ids_in_order(fleet: Fleet) -> None:
    plan = plan_fleet(fleet)
    assert len(plan) == len(fleet.robots) * len(fleet.variables)
    first = plan.items[0]
    assert (first.robot_id, first.field) == ("r001", fleet.variables[0].name)
    assert (first.namespace_uri, first.node_id) == fleet.node_id(fleet.robots[0], fleet.variables[0])
    resolved = resolve_node_ids(plan, ["http://opcfoundation.org/UA/", "urn:other", fleet.opcua.namespace_uri])
    assert resolved[1] == ua.NodeId("Robots.R001.StateOfCharge", 2)


def test_absolute_node_ids_are_used_as_they_are() -> None:
    fleet = fleet_variant(1)
    data = fleet.model_dump(mode="python", by_alias=True)
    data["robots"][0]["node_ids"] = {"soc_pct": "ns=5;i=1001", "state": "nsu=urn:vendor:x;s=Robot.Mode"}
    plan = plan_fleet(Fleet.model_validate(data))
    by_field = dict(zip([i.field for i in plan.items], resolve_node_ids(plan, ["ns0", "urn:vendor:x"]), strict=True))
    assert by_field["soc_pct"] == ua.NodeId(1001, 5)
    assert by_field["state"] == ua.NodeId("Robot.Mode", 1)
    # The fleet namespace is missing here: template ids cannot resolve, and say why.
    assert "not in the server's namespace array" in by_field["charging_power_kw"]


def test_unparseable_node_id_is_refused_before_any_connection() -> None:
    data = fleet_variant(1).model_dump(mode="python", by_alias=True)
    data["robots"][0]["node_ids"] = {"soc_pct": "q=what"}
    with pytest.raises(PlanError, match="robot 'r001', variable 'soc_pct'"):
        plan_fleet(Fleet.model_validate(data))


def test_batches_and_timing() -> None:
    assert [list(b) for b in batches(list(range(7)), 3)] == [[0, 1, 2], [3, 4, 5], [6]]
    t = timing(fleet_variant(1, sampling_interval_ms=250, publishing_interval_ms=1000, timeout_s=4).opcua)
    assert t.queue_size == 4  # every sample of one publishing interval is kept
    assert t.stall_timeout_s == pytest.approx(2 * 3 * 1.0 + 4)
    revised = timing(fleet_variant(1).opcua, revised_publishing_interval_ms=500, revised_keepalive_count=10)
    assert revised.stall_timeout_s == pytest.approx(2 * 10 * 0.5 + 1.5)


def test_browse_path_items_wait_for_translation_and_read_back_as_typed() -> None:
    data = fleet_variant(2).model_dump(mode="python", by_alias=True)
    data["browse_path_template"] = "Objects/{ns}:Robots/{ns}:{robot}/{ns}:{variable}"
    data["robots"][1]["node_ids"] = {"state": "ns=5;i=42"}
    plan = plan_fleet(Fleet.model_validate(data))
    state_r002 = next(i for i, item in enumerate(plan.items) if (item.robot_id, item.field) == ("r002", "state"))
    # Every item but r002's state (its own node id wins) goes by browse path.
    assert plan.browse_indices == tuple(i for i in range(len(plan)) if i != state_r002)
    resolved = resolve_node_ids(plan, ["http://opcfoundation.org/UA/", "urn:other", "urn:shopfloor:ev-robots"])
    assert resolved[state_r002] == ua.NodeId(42, 5)
    assert all(resolved[i] == NOT_TRANSLATED for i in plan.browse_indices)
    soc = plan.items[next(i for i, item in enumerate(plan.items) if item.field == "soc_pct")]
    assert soc.browse_path is not None
    assert path_text(soc.browse_path, 2) == "Objects/2:Robots/2:R001/2:StateOfCharge"
    assert path_text(soc.browse_path, None) == "Objects/{ns}:Robots/{ns}:R001/{ns}:StateOfCharge"
