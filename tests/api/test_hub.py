"""LiveHub on its own: transitions in order, late samples ignored, slow clients bounded, links pushed."""

from __future__ import annotations

import asyncio

from shopfloor.api.live import LiveHub
from shopfloor.models.contract import MEASUREMENT_ROBOT
from shopfloor.models.plant import Plant
from shopfloor.models.samples import ConnectivityEvent, SampleBatch
from shopfloor.models.states import Quality, RobotState
from tests.fixtures.waiting import DEADLINE_S


def robot(rows: list[tuple[int, str, str, float | None]]) -> SampleBatch:
    return SampleBatch.from_rows(
        MEASUREMENT_ROBOT,
        [(t, e, f, v, Quality.GOOD if v is not None else Quality.BAD_NO_COMMUNICATION, "") for t, e, f, v in rows],
        fleet="ev-robots",
    )


async def drain(sub, n: int) -> list[dict]:  # type: ignore[no-untyped-def]  # sub: the hub's subscription, duck-typed
    """The next ``n`` messages; the deadline only stops a hang (what arrives, and in what order, is the test)."""
    return [await asyncio.wait_for(sub.get(), DEADLINE_S) for _ in range(n)]


async def test_every_transition_in_a_batch_is_pushed_in_time_order(plant: Plant) -> None:
    hub = LiveHub(plant)
    sub = hub.subscribe()
    # unsorted within the batch, a repeated state, a bad sample (no value) and another robot
    hub.write(
        robot(
            [
                (30, "r01", "state", RobotState.CHARGING),
                (10, "r01", "state", RobotState.DISPATCHED),
                (20, "r01", "state", RobotState.DISPATCHED),
                (25, "r01", "state", None),
                (15, "r02", "state", RobotState.FAULT),
                (31, "r01", "soc_pct", 70.0),
            ]
        )
    )
    got = await drain(sub, 3)
    assert [(m["equipment"], m["state"], m["since_ns"]) for m in got] == [
        ("r01", RobotState.DISPATCHED, 10),
        ("r02", RobotState.FAULT, 15),
        ("r01", RobotState.CHARGING, 30),
    ]
    assert got[2]["previous"] == RobotState.DISPATCHED and got[2]["label_zh"] == "充电中"
    assert hub.state("r01").since_ns == 30 and hub.values("r01")["soc_pct"] == (31, 70.0)
    # a late sample (older than what the hub has) changes nothing and pushes nothing
    hub.write(robot([(5, "r01", "state", RobotState.IDLE)]))
    hub.write(robot([(40, "r01", "state", RobotState.RETURNING)]))
    assert (await drain(sub, 1))[0]["state"] == RobotState.RETURNING
    sub.close()
    assert hub.clients == 0


async def test_a_slow_client_keeps_only_the_newest_messages(plant: Plant) -> None:
    hub = LiveHub(plant, queue_size=4)
    sub = hub.subscribe()
    for t in range(10):
        hub.write(robot([(t, "r03", "state", RobotState.IDLE if t % 2 else RobotState.DRIVING)]))
    await asyncio.sleep(0)  # one turn of the loop runs the queued call_soon_threadsafe callbacks
    got = await drain(sub, 4)
    assert [m["since_ns"] for m in got] == [6, 7, 8, 9]
    assert sub.dropped == 6


async def test_a_slow_client_keeps_only_the_newest_snapshot_of_each_kind(plant: Plant) -> None:
    # A snapshot is the whole status (42 kB for 3 lines and 100 robots): a client that does not read
    # must not pile them up; each newer one replaces the unsent one and goes after the changes before it.
    hub = LiveHub(plant, queue_size=8)
    sub = hub.subscribe()
    hub.publish({"type": "status", "n": 1})
    hub.write(robot([(1, "r03", "state", RobotState.DRIVING)]))
    hub.publish({"type": "kpi", "n": 1})
    hub.publish({"type": "status", "n": 2})
    hub.publish({"type": "kpi", "n": 2})
    hub.publish({"type": "status", "n": 3})
    await asyncio.sleep(0)
    assert sub.pending == 3
    got = await drain(sub, 3)
    assert [(m["type"], m.get("n")) for m in got] == [("state", None), ("kpi", 2), ("status", 3)]
    assert (sub.superseded, sub.dropped) == (3, 0)


async def test_link_changes_are_pushed(plant: Plant) -> None:
    hub = LiveHub(plant)
    sub = hub.subscribe()
    hub.write_connectivity([ConnectivityEvent(5, "ev-robots", "opcua:ev-robots", False, "timeout")])
    msg = await drain(sub, 1)
    assert msg == [
        {
            "type": "connectivity",
            "equipment": "ev-robots",
            "connected": False,
            "ts_ns": 5,
            "source": "opcua:ev-robots",
            "detail": "timeout",
        }
    ]
    assert hub.link("ev-robots").connected is False
