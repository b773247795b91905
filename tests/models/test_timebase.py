"""The one clock interface and its default, the machine's clocks."""

from __future__ import annotations

from shopfloor.models.timebase import NS_PER_S, SystemClock


async def test_system_clock() -> None:
    clock = SystemClock()
    before = clock.monotonic()
    await clock.sleep(0.01)
    assert clock.monotonic() >= before + 0.009
    assert clock.now_ns() > 1_700_000_000 * NS_PER_S
    await clock.sleep(-1)  # a deadline already past does not raise
