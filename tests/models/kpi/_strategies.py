"""Hypothesis strategies: messy series (wraps, resets, gaps, duplicates, disorder) and random shift calendars."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
from hypothesis import strategies as st

from shopfloor.models.calendar import ShiftInstance
from shopfloor.models.samples import Series

NS = 1_000_000_000
T0 = 1_790_000_000 * NS  # late 2026
HORIZON_S = 400


@st.composite
def timestamps(draw, min_size: int = 0, max_size: int = 60) -> np.ndarray:
    """Mostly 1 s apart, with gaps, duplicates and a few samples out of order."""
    steps = draw(st.lists(st.sampled_from([0, 1, 1, 1, 1, 2, 3, 4, 9, 25]), min_size=min_size, max_size=max_size))
    t = T0 + np.cumsum(np.array(steps, dtype=np.int64)) * NS
    if len(t) > 2 and draw(st.booleans()):
        i, j = draw(st.integers(0, len(t) - 1)), draw(st.integers(0, len(t) - 1))
        t[[i, j]] = t[[j, i]]
    return t


@st.composite
def counter_series(draw, wrap: float) -> Series:
    ts = draw(timestamps())
    inc = np.array(draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 3.0, 7.5, 40.0]), min_size=len(ts), max_size=len(ts))))
    value = np.mod(draw(st.integers(0, int(wrap) - 1)) + np.cumsum(inc), wrap)
    if len(ts) > 3 and draw(st.booleans()):
        # A reset: the meter restarts from a small value, after a drop of any size (below and above half
        # the wrap span, where a reset and a wrap are told apart).
        k = draw(st.integers(1, len(ts) - 1))
        value[:k] = np.mod(value[:k] - value[k - 1] + draw(st.integers(0, int(wrap) - 1)), wrap)
        value[k:] = np.mod(value[k:] - value[k] + draw(st.floats(0, 5)), wrap)
    return Series(ts, value)


@st.composite
def state_series(draw, codes: list[int]) -> Series:
    ts = draw(timestamps())
    runs = draw(st.lists(st.tuples(st.sampled_from(codes), st.integers(1, 8)), min_size=1, max_size=20))
    values = np.repeat([c for c, _ in runs], [n for _, n in runs]).astype(float)
    values = np.resize(values, len(ts)) if len(values) else np.zeros(len(ts))
    return Series(ts, values)


@st.composite
def instances(draw, cut_s: st.SearchStrategy[int] | None = None) -> list[ShiftInstance]:
    """Random non-overlapping shifts (some adjacent, some with holes) with breaks inside them.

    ``cut_s``: where shift edges may fall, in seconds from T0 (default: anywhere over the horizon).
    """
    cut = st.integers(-20, HORIZON_S + 20) if cut_s is None else cut_s
    cuts = sorted(set(draw(st.lists(cut, min_size=0, max_size=8))))
    out = []
    for k, (a, b) in enumerate(itertools.pairwise(cuts)):
        if draw(st.integers(0, 4)) == 0:
            continue  # a hole between shifts
        breaks = []
        if b - a > 10 and draw(st.booleans()):
            bs = draw(st.integers(a, b - 5))
            breaks.append(((T0 + bs * NS), T0 + draw(st.integers(bs + 1, min(b, bs + 40))) * NS))
        out.append(ShiftInstance(f"s{k}", dt.date(2026, 1, 1), None, T0 + a * NS, T0 + b * NS, tuple(breaks)))
    return out


@st.composite
def outage_spans(draw) -> tuple[np.ndarray, np.ndarray]:
    cuts = sorted(set(draw(st.lists(st.integers(0, HORIZON_S), max_size=6))))
    pairs = list(zip(cuts[::2], cuts[1::2], strict=False))  # an odd number of cuts leaves one over
    starts = np.array([T0 + a * NS for a, _ in pairs], dtype=np.int64)
    ends = np.array([T0 + b * NS for _, b in pairs], dtype=np.int64)
    return starts, ends


# Pieces of robot life: full dispatch cycles, re-dispatch before arrival, abandoned dispatches, faults.
_R = {"I": 0, "D": 1, "V": 2, "C": 3, "H": 4, "R": 5, "S": 6, "F": 7, "O": 8, "M": 9}
ROBOT_PIECES = ["I", "DVCHR", "DVDCH", "DI", "DVFI", "DC", "DH", "F", "O", "M", "S", "DVOVCH"]


@st.composite
def robot_state_series(draw) -> Series:
    pieces = draw(st.lists(st.sampled_from(ROBOT_PIECES), min_size=1, max_size=12))
    codes = [_R[c] for piece in pieces for c in piece]
    lengths = draw(st.lists(st.integers(1, 6), min_size=len(codes), max_size=len(codes)))
    values = np.repeat(codes, lengths).astype(float)
    ts = draw(timestamps(min_size=len(values), max_size=len(values)))
    return Series(ts, values)
