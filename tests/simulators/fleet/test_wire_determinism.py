"""Determinism over the wire: two fleet servers with one seed serve identical values at identical times.

The model's determinism is tested in test_process.py; this is what a
collector actually sees. Each server has its own ManualClock and a real
asyncua client reads every robot variable — value, status and source
timestamp — at the same simulated checkpoints:

* two servers with one seed, clocks moved alike: identical, timestamps included;
* a third with that seed, its clock moved in small irregular chunks (syncing
  after each): identical values and statuses. Its source timestamps may be
  earlier — only changed values are written, so a value that changed and then
  held is stamped when this server first published it (a real server samples too);
* a fourth with another seed shows the comparison can tell runs apart.
"""

from __future__ import annotations

from typing import Any

from asyncua import Client, ua

from shopfloor.models.calendar import from_ns
from shopfloor.models.states import RobotState
from shopfloor.simulators.clock import ManualClock
from shopfloor.simulators.fleet.server import FleetSimulator
from tests.simulators.fleet._helpers import LOOPBACK, SIM_START_NS, make_plant

CHECKPOINTS_S = [0, 1, 45, 600, 3599, 3600, 2 * 3600, 5 * 3600 + 17, 9 * 3600, 14 * 3600, 20 * 3600, 24 * 3600]
SMALL_CHUNKS_S = [0.4, 13, 7.6, 250, 1.0, 999.5]  # cycled: steps are never aligned with the chunks


async def read_everything(client: Client, sim: FleetSimulator) -> list[tuple[str, str, Any, str, Any]]:
    """(robot, variable, value, status, source timestamp) of every robot variable, in one Read."""
    keys = [(r.id, v.name) for r in sim.fleet.robots for v in sim.fleet.variables]
    values: list[ua.DataValue] = await client.read_attributes([client.get_node(sim.node_id(*k)) for k in keys])
    return [
        (robot, name, dv.Value.Value, dv.StatusCode.name, dv.SourceTimestamp)
        for (robot, name), dv in zip(keys, values, strict=True)
    ]


async def advance_to(sim: FleetSimulator, clock: ManualClock, target_ns: int, chunks_s: list[float] | None) -> None:
    """Move the clock to ``target_ns`` in one jump (None) or in the given chunks, syncing after each move."""
    step = 0
    while clock.now_ns() < target_ns:
        if chunks_s is None:
            remaining_s = (target_ns - clock.now_ns()) / 1e9
        else:
            remaining_s = min(chunks_s[step % len(chunks_s)], (target_ns - clock.now_ns()) / 1e9)
            step += 1
        clock.advance(remaining_s)
        await sim.sync()
    assert clock.now_ns() == target_ns  # whole nanoseconds survive the float seconds of advance()


async def test_same_seed_serves_identical_values_at_identical_times() -> None:
    # A busy small fleet over a day: every state, faults and (rare) offline periods get a chance.
    # Demand the six robots can serve: an ever-growing queue would only make the stepping slow.
    plant = make_plant(robots=6, car_arrivals_per_hour=5.0, fault_rate_per_hour=0.3)
    seeds = (42, 42, 42, 43)
    chunking: list[list[float] | None] = [None, None, SMALL_CHUNKS_S, None]
    clocks = [ManualClock(start_ns=SIM_START_NS) for _ in seeds]
    sims = [
        FleetSimulator(plant, endpoint=LOOPBACK, port=0, seed=seed, clock=clock)
        for seed, clock in zip(seeds, clocks, strict=True)
    ]
    for sim in sims:
        await sim.start()
    try:
        clients = [Client(sim.endpoint, timeout=10) for sim in sims]
        for client in clients:
            await client.connect()
        try:
            served: list[list[list[tuple[str, str, Any, str, Any]]]] = [[] for _ in sims]
            for checkpoint_s in CHECKPOINTS_S:
                target_ns = SIM_START_NS + checkpoint_s * 1_000_000_000
                for i, sim in enumerate(sims):
                    await advance_to(sim, clocks[i], target_ns, chunking[i])
                    assert sim.process.now_ns == target_ns  # whole-second checkpoints on the 1 s step grid
                    served[i].append(await read_everything(clients[i], sim))
        finally:
            for client in clients:
                await client.disconnect()
    finally:
        for sim in sims:
            await sim.stop()

    same, again, chunked, other = served
    for checkpoint_s, a, b, c in zip(CHECKPOINTS_S, same, again, chunked, strict=True):
        assert a == b, f"the two runs with seed 42 differ at +{checkpoint_s} s"
        assert [item[:4] for item in a] == [item[:4] for item in c], f"chunked run differs at +{checkpoint_s} s"
        checkpoint = from_ns(SIM_START_NS + checkpoint_s * 1_000_000_000)
        assert all(ts <= checkpoint for *_, ts in a + c)  # stamped in simulated time, never ahead of it
    assert all(status == "Good" for snapshot in same for *_, status, _ in snapshot)
    # Not a trivially frozen server: values moved over the day...
    assert same[0] != same[-1]
    assert max(ts for *_, ts in same[-1]) > from_ns(SIM_START_NS)
    states = {value for snapshot in same for _, name, value, *_ in snapshot if name == "state"}
    assert len(states) >= 3, {RobotState(s).name for s in states}
    # ...and another seed serves another day, so the equality above could have failed.
    assert same != other
