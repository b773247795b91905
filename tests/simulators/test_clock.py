"""simulators.clock: scaled time, manual time, fixed-step catch-up."""

from __future__ import annotations

import asyncio
import time

import pytest

from shopfloor.models.timebase import NS_PER_S
from shopfloor.simulators.clock import ManualClock, SimClock, run_fixed_steps, steps_due


def test_simclock_starts_at_start_and_moves_scaled() -> None:
    clock = SimClock(start_ns=1_000 * NS_PER_S, time_scale=50.0)
    assert clock.start_ns == 1_000 * NS_PER_S
    assert clock.time_scale == 50.0
    # Bracket each clock reading between two monotonic readings: exact bounds, immune to preemption.
    w0 = time.monotonic_ns()
    sim0 = clock.now_ns()
    w1 = time.monotonic_ns()
    while time.monotonic_ns() - w1 < 200_000_000:
        pass  # let some wall time pass (we measure it, we do not synchronise on it)
    w2 = time.monotonic_ns()
    sim1 = clock.now_ns()
    w3 = time.monotonic_ns()
    assert sim0 >= clock.start_ns
    assert 50 * (w2 - w1) - 1 <= sim1 - sim0 <= 50 * (w3 - w0) + 1


def test_simclock_default_start_is_wall_now() -> None:
    before = time.time_ns()
    clock = SimClock()
    assert before <= clock.start_ns <= time.time_ns()


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_time_scale_is_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="time_scale"):
        SimClock(time_scale=bad)
    with pytest.raises(ValueError, match="time_scale"):
        ManualClock(time_scale=bad)


def test_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock(start_ns=5 * NS_PER_S)
    assert clock.now_ns() == 5 * NS_PER_S
    assert clock.advance(1.5) == 6_500_000_000
    assert clock.now_ns() == 6_500_000_000
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_steps_due_counts_whole_steps() -> None:
    assert steps_due(0, 0, 10) == 0
    assert steps_due(0, 9, 10) == 0
    assert steps_due(0, 10, 10) == 1
    assert steps_due(0, 35, 10) == 3
    assert steps_due(50, 10, 10) == 0


async def _collect(clock: ManualClock, plan: list[float]) -> list[tuple[float, int]]:
    calls: list[tuple[float, int]] = []
    stop = asyncio.Event()
    task = asyncio.create_task(run_fixed_steps(clock, 1.0, lambda s, t: calls.append((s, t)), stop))
    expected = 0
    for seconds in plan:
        clock.advance(seconds)
        expected = (clock.now_ns() - clock.start_ns) // NS_PER_S
        deadline = time.monotonic() + 10
        while len(calls) < expected and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
    stop.set()
    await asyncio.wait_for(task, 10)
    assert len(calls) == expected
    return calls


async def test_fixed_steps_do_not_depend_on_how_time_arrives() -> None:
    start = 1_700_000_000 * NS_PER_S
    lumpy = await _collect(ManualClock(start_ns=start), [0.3, 2.9, 0.05, 7.0, 0.75])
    smooth = await _collect(ManualClock(start_ns=start), [0.5] * 22)
    assert len(lumpy) == 11
    assert lumpy == smooth[: len(lumpy)]
    assert [t for _, t in lumpy] == [start + k * NS_PER_S for k in range(1, 12)]
    assert all(s == 1.0 for s, _ in lumpy)


async def test_fixed_steps_keep_up_with_a_fast_clock_and_cap_catchup() -> None:
    clock = SimClock(time_scale=2000.0)
    reached: list[int] = []
    stop = asyncio.Event()
    count = 0

    def advance(step_s: float, t_ns: int) -> None:
        nonlocal count
        count += 1

    task = asyncio.create_task(
        run_fixed_steps(clock, 1.0, advance, stop, max_catchup_steps=50, on_caught_up=reached.append)
    )
    deadline = time.monotonic() + 20
    while count < 500 and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    stop.set()
    model_ns = await asyncio.wait_for(task, 10)
    assert count >= 500
    assert model_ns == clock.start_ns + count * NS_PER_S
    assert model_ns <= clock.now_ns()
    assert reached and reached[-1] <= model_ns


async def test_two_loops_on_one_manual_clock_both_wake_on_advance() -> None:
    clock = ManualClock(start_ns=0)
    counts = [0, 0]
    stop = asyncio.Event()

    def make(i: int):  # type: ignore[no-untyped-def]  # returns a closure
        def advance(step_s: float, t_ns: int) -> None:
            counts[i] += 1

        return advance

    # A long max_wait_s: only the wake-up on advance() can make them catch up in time.
    tasks = [asyncio.create_task(run_fixed_steps(clock, 1.0, make(i), stop, max_wait_s=600)) for i in (0, 1)]
    await asyncio.sleep(0)  # let both subscribe (ordering only; the assertion below polls with a deadline)
    for seconds, total in ((3, 3), (7, 10)):
        clock.advance(seconds)
        deadline = time.monotonic() + 10
        while counts != [total, total] and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        assert counts == [total, total]
    stop.set()
    assert await asyncio.wait_for(asyncio.gather(*tasks), 10) == [10 * NS_PER_S, 10 * NS_PER_S]
