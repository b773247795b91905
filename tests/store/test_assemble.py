"""The vectorised read assembly against a plain-Python reference."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from shopfloor.store.assemble import assemble_series, sort_quality

rows = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]), st.sampled_from(["x", "y"]), st.integers(0, 20), st.floats(allow_nan=False)
    ),
    max_size=80,
)


@settings(max_examples=200, deadline=None)
@given(rows, st.one_of(st.none(), st.lists(st.sampled_from(["x", "y", "z"]), unique=True)))
def test_series_match_reference(data: list[tuple[str, str, int, float]], fields: list[str] | None) -> None:
    eq = np.array([r[0] for r in data], dtype=object)
    fl = np.array([r[1] for r in data], dtype=object)
    ts = np.array([r[2] for r in data], dtype=np.int64)
    val = np.array([r[3] for r in data], dtype=np.float64)
    got = assemble_series(["a", "b"], fields, eq, fl, ts, val)
    reference: dict[str, dict[str, dict[int, float]]] = {"a": {}, "b": {}}
    for e, f, t, v in data:  # in write order: the last write of a timestamp wins
        if e in reference and (fields is None or f in fields):
            reference[e].setdefault(f, {})[t] = v
    if fields is not None:
        for e in reference:
            for f in fields:
                reference[e].setdefault(f, {})
    assert set(got) == {"a", "b"}
    for e, by_field in reference.items():
        assert set(got[e]) == set(by_field)
        for f, points in by_field.items():
            assert got[e][f].ts_ns.tolist() == sorted(points)
            assert got[e][f].value.tolist() == [points[t] for t in sorted(points)]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 5),
            st.sampled_from(["b", "a"]),
            st.sampled_from(["y", "x"]),
            st.integers(1, 6),
            st.text(max_size=3),
        ),
        max_size=40,
    )
)
def test_quality_sorted_and_deduplicated(data: list[tuple[int, str, str, int, str]]) -> None:
    log = sort_quality(
        np.array([d[0] for d in data], dtype=np.int64),
        np.array([d[1] for d in data], dtype=object),
        np.array([d[2] for d in data], dtype=object),
        np.array([d[3] for d in data], dtype=np.uint8),
        np.array([d[4] for d in data], dtype=object),
    )
    reference: dict[tuple[int, str, str], tuple[int, str]] = {}
    for t, e, f, c, d in data:
        reference[(t, e, f)] = (c, d)
    expected = [(k[0], k[1], k[2], *reference[k]) for k in sorted(reference)]
    assert (
        list(
            zip(
                log.ts_ns.tolist(),
                log.equipment.tolist(),
                log.field.tolist(),
                log.code.tolist(),
                log.detail.tolist(),
                strict=True,
            )
        )
        == expected
    )
