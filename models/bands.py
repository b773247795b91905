"""Green, amber and red: the one rule every tile colours a ratio against a target by.

At least the target (100 %) is green, at least 90 % of it amber, below that
red. The shift tile's metres against the pro-rata target, a team objective's
attainment and the year's pace all use it; the API sends the band, so the
pages never hold the thresholds themselves.
"""

from __future__ import annotations

from enum import StrEnum

GREEN_FROM_PCT = 100.0
AMBER_FROM_PCT = 90.0


class Band(StrEnum):
    GREEN = "green"
    AMBER = "amber"
    RED = "red"


def band_of(pct: float | None) -> Band | None:
    """The band of a percentage of target (None: no target or no data, shown uncoloured)."""
    if pct is None:
        return None
    if pct >= GREEN_FROM_PCT:
        return Band.GREEN
    return Band.AMBER if pct >= AMBER_FROM_PCT else Band.RED
