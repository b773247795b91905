"""Time as the whole system counts it: the unit constants.

Every timestamp in the system is an integer of UTC epoch nanoseconds, so the
conversions to and from seconds live here once rather than in every module
that needs them.
"""

from __future__ import annotations

NS_PER_S = 1_000_000_000
S_PER_DAY = 86_400
NS_PER_DAY = S_PER_DAY * NS_PER_S
