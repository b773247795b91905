"""Per-order reports from raw samples: orders read from the line's order registers, over the real app and store."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from shopfloor.api.timerange import iso, parse_shift_key
from shopfloor.models.contract import MEASUREMENT_PRINTER
from shopfloor.models.samples import SampleBatch
from shopfloor.models.timebase import NS_PER_S
from tests.api.conftest import ALICE, Env

PRINTER = "mso-cpp-1"


def write_orders(env: Env, changes: list[tuple[int, int, int]]) -> None:
    """The order registers polled every second from the first change to the end of the history."""
    ts = np.arange(changes[0][0], env.end_ns, NS_PER_S, dtype=np.int64)
    at = np.searchsorted(np.array([c[0] for c in changes], dtype=np.int64), ts, side="right") - 1
    order = np.array([c[1] for c in changes], dtype=np.float64)[at]
    design = np.array([c[2] for c in changes], dtype=np.float64)[at]
    n = len(ts)
    env.store.write(
        SampleBatch(
            MEASUREMENT_PRINTER,
            np.tile(ts, 2),
            np.full(2 * n, PRINTER, dtype=object),
            np.repeat(np.array(["order_number", "design_code"], dtype=object), n),
            np.concatenate([order, design]),
            np.zeros(2 * n, dtype=np.uint8),
            np.full(2 * n, "", dtype=object),
        )
    )
    env.store.flush()


@pytest.fixture
def two_orders(env: Env) -> tuple[int, int, int]:
    """The previous shift: order 8001 (design 101) in its first half, 8002 (design 102) in its second."""
    shift = parse_shift_key(env.plant, env.previous_shift)
    middle = shift.start_ns + (shift.end_ns - shift.start_ns) // 2
    write_orders(env, [(shift.start_ns, 8001, 101), (middle, 8002, 102), (shift.end_ns, 0, 0)])
    return shift.start_ns, middle, shift.end_ns


def test_a_shift_of_two_orders_adds_up_to_the_shift(
    client: TestClient, env: Env, two_orders: tuple[int, int, int]
) -> None:
    start, middle, end = two_orders
    r = client.get(f"/api/v1/printers/{PRINTER}/orders", params={"shift": env.previous_shift})
    assert r.status_code == 200, r.text
    orders = r.json()["orders"]
    assert [(o["order_number"], o["design_code"], o["start_ns"], o["end_ns"]) for o in orders] == [
        (8001, 101, start, middle),
        (8002, 102, middle, end),
    ]
    speeds = {d.code: d.ideal_speed_m_min for d in env.plant.designs}
    assert [o["ideal_speed_m_min"] for o in orders] == [speeds[101], speeds[102]]
    design = env.plant.design(101)
    assert design is not None and orders[0]["design"]["name"] == design.name
    assert not any(o["ongoing"] for o in orders)
    shift = client.get("/api/v1/kpis", params={"shift": env.previous_shift}).json()
    whole = shift["printers"][PRINTER]
    # The two spans cover the shift: metres and times add up to the shift's (the same core, cut at the order change).
    for key in ("printed_m", "good_m", "defective_m"):
        assert sum(o["kpis"][key] for o in orders) == pytest.approx(whole[key], abs=1e-6)
    # Defective metres served, not left to the page: what was printed and not good.
    for k in [o["kpis"] for o in orders] + [whole]:
        assert k["defective_m"] > 0 and k["defective_m"] == pytest.approx(k["printed_m"] - k["good_m"], abs=1e-9)
    assert [(o["fabric"], o["colourway"]) for o in orders] == [(None, None)] * 2  # no plan
    for key in ("apt_s", "aust_s", "adot_s", "adet_s", "pdot_s"):
        assert sum(o["kpis"]["times"][key] for o in orders) == pytest.approx(whole["times"][key], abs=1e-6)
    # Performance: each order against its own design's speed; the shift's is their ideal time over its run time.
    ideal_s = [o["kpis"]["oee"]["performance_pct"] / 100 * o["kpis"]["times"]["apt_s"] for o in orders]
    for o, s in zip(orders, ideal_s, strict=True):
        assert s == pytest.approx(o["kpis"]["printed_m"] / (o["ideal_speed_m_min"] / 60), rel=0.01)
    assert whole["oee"]["performance_pct"] == pytest.approx(100 * sum(ideal_s) / whole["times"]["apt_s"], rel=1e-9)


def test_one_order_by_number(client: TestClient, env: Env, two_orders: tuple[int, int, int]) -> None:
    start, middle, end = two_orders
    params = {"start": iso(env.plant, start - 3600 * NS_PER_S), "end": iso(env.plant, end)}
    r = client.get("/api/v1/orders/8002", params=params)
    assert r.status_code == 200, r.text
    [order] = r.json()["orders"]
    assert (order["equipment"], order["start_ns"], order["end_ns"]) == (PRINTER, middle, end)
    missing = client.get("/api/v1/orders/9999", params=params)
    assert missing.status_code == 200 and missing.json()["orders"] == []  # did not run then
    assert client.get("/api/v1/orders/0", params=params).status_code == 422
    assert client.get("/api/v1/printers/nope/orders", params=params).status_code == 404


PLAN = """order_number,design_code,colourway,fabric,metres_ordered
8001,101,red on ivory,cotton poplin,9000
8002,102,indigo,viscose,4000.5
"""


def test_a_plan_gives_each_order_its_metres_ordered_and_is_audited(
    client: TestClient, env: Env, two_orders: tuple[int, int, int]
) -> None:
    url = f"/api/v1/printers/{PRINTER}/orders/plan"
    assert client.post(url, json={"csv": PLAN}).status_code == 401  # a key, as for every change
    r = client.post(url, json={"csv": PLAN, "operator": "Li Na"}, headers=ALICE)
    assert r.status_code == 201, r.text
    assert [o["order_number"] for o in r.json()["orders"]] == [8001, 8002]
    [entry] = client.get("/api/v1/audit", params={"equipment": PRINTER, "limit": 1}).json()["entries"]
    assert entry["action"] == "import_plan" and entry["operator"] == "Li Na [alice]" and entry["before"] == []
    assert [o["metres_ordered"] for o in entry["after"]] == [9000.0, 4000.5]
    orders = client.get(f"/api/v1/printers/{PRINTER}/orders", params={"shift": env.previous_shift}).json()["orders"]
    planned = [(9000.0, "cotton poplin", "red on ivory"), (4000.5, "viscose", "indigo")]
    for o, (ordered, fabric, colourway) in zip(orders, planned, strict=True):
        assert (o["metres_ordered"], o["fabric"], o["colourway"]) == (ordered, fabric, colourway)
        design = env.plant.design(o["design_code"])
        assert design is not None and o["design"]["colourway"] == design.colourway  # the design's own, beside it
        assert o["remaining_m"] == pytest.approx(max(0.0, ordered - o["kpis"]["printed_m"]))
    # Planned again: the newer row is in force, and the audit keeps the one it replaced.
    again = PLAN.splitlines()[0] + "\n8002,102,indigo,viscose,5000\n"
    assert client.post(url, json={"csv": again}, headers=ALICE).status_code == 201
    [entry] = client.get("/api/v1/audit", params={"equipment": PRINTER, "limit": 1}).json()["entries"]
    assert [o["metres_ordered"] for o in entry["before"]] == [4000.5]
    orders = client.get(f"/api/v1/printers/{PRINTER}/orders", params={"shift": env.previous_shift}).json()["orders"]
    assert [o["metres_ordered"] for o in orders] == [9000.0, 5000.0]


@pytest.mark.parametrize(
    ("csv_text", "words"),
    [
        ("order,design_code,colourway,fabric,metres_ordered\n1,101,,,5\n", "missing ['order_number']"),
        (PLAN.splitlines()[0] + "\n8001,101,,,abc\n", "line 2, column metres_ordered: expected metres > 0"),
        (PLAN.splitlines()[0] + "\n8001,999,,,5\n", "line 2, column design_code: expected a design code"),
        (PLAN.splitlines()[0] + "\n8001,101,,,5\n8001,102,,,6\n", "line 3, column order_number: order 8001 is already"),
        (PLAN.splitlines()[0] + "\n0,101,,,5\n", "line 2, column order_number: expected a whole number"),
        (PLAN.splitlines()[0] + "\n", "no order rows"),
    ],
)
def test_a_bad_plan_is_refused_naming_line_and_column(client: TestClient, env: Env, csv_text: str, words: str) -> None:
    r = client.post(f"/api/v1/printers/{PRINTER}/orders/plan", json={"csv": csv_text}, headers=ALICE)
    assert r.status_code == 422 and words in r.json()["detail"], r.text
    assert env.annotations.planned_orders(PRINTER, [1, 8001]) == {}


def test_an_order_resumed_after_another_has_one_remainder_over_all_its_spans(client: TestClient, env: Env) -> None:
    shift = parse_shift_key(env.plant, env.previous_shift)
    third = (shift.end_ns - shift.start_ns) // 3
    write_orders(
        env,
        [
            (shift.start_ns, 8001, 101),
            (shift.start_ns + third, 8002, 102),
            (shift.start_ns + 2 * third, 8001, 101),
            (shift.end_ns, 0, 0),
        ],
    )
    r = client.post(
        f"/api/v1/printers/{PRINTER}/orders/plan", json={"csv": PLAN.replace("9000", "50000")}, headers=ALICE
    )
    assert r.status_code == 201, r.text
    orders = client.get(f"/api/v1/printers/{PRINTER}/orders", params={"shift": env.previous_shift}).json()["orders"]
    assert [o["order_number"] for o in orders] == [8001, 8002, 8001]
    done_m = orders[0]["kpis"]["printed_m"] + orders[2]["kpis"]["printed_m"]
    assert orders[0]["kpis"]["printed_m"] > 0 and orders[2]["kpis"]["printed_m"] > 0 and done_m < 50000.0
    for o in (orders[0], orders[2]):
        assert o["remaining_m"] == pytest.approx(50000.0 - done_m)
    assert orders[1]["remaining_m"] == pytest.approx(max(0.0, 4000.5 - orders[1]["kpis"]["printed_m"]))
