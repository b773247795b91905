"""The vectorised encoder against influxdb-client's own Point, one sample at a time."""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from influxdb_client import Point, WritePrecision

from shopfloor.models.ledger import LedgerRow, encode
from shopfloor.models.samples import ConnectivityEvent, SampleBatch
from shopfloor.models.states import Quality
from shopfloor.store.influx.line_protocol import encode_connectivity, encode_ledger, encode_quality, encode_values
from shopfloor.store.prepare import prepare_batch
from tests.models._ledger_rows import ledger_rows

ids = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,12}", fullmatch=True)
fields = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True)
# a plant id as anything a tag could meet: spaces, commas, equals signs, quotes, non-ASCII
tag_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12)
finite = st.floats(allow_nan=False, allow_infinity=False)
timestamps = st.integers(min_value=-(2**62), max_value=2**62)


def _point_style(line: str) -> str:
    """Point trims a whole float's ".0" (``3`` not ``3.0``); both are floats to InfluxDB."""
    return re.sub(r"=(-?\d+)\.0(,| )", r"=\1\2", line)


@st.composite
def batches(draw: st.DrawFn) -> tuple[SampleBatch, str]:
    n = draw(st.integers(1, 30))
    robot = draw(st.booleans())
    rows = [(draw(timestamps), draw(ids), draw(fields), draw(finite)) for _ in range(n)]
    batch = SampleBatch(
        "robot" if robot else "printer",
        np.array([r[0] for r in rows], dtype=np.int64),
        np.array([r[1] for r in rows], dtype=object),
        np.array([r[2] for r in rows], dtype=object),
        np.array([r[3] for r in rows], dtype=np.float64),
        np.zeros(n, dtype=np.uint8),
        np.full(n, "", dtype=object),
        fleet=draw(ids) if robot else "",
    )
    return batch, draw(tag_text)


@settings(max_examples=80, deadline=None)
@given(batches())
def test_values_match_point_per_sample(case: tuple[SampleBatch, str]) -> None:
    batch, plant = case
    ours = encode_values(plant, prepare_batch(batch)).decode().split("\n")
    reference = []
    for t, e, f, v in zip(batch.ts_ns.tolist(), batch.equipment, batch.field, batch.value.tolist(), strict=True):
        point = Point(batch.measurement).tag("plant", plant).tag("equipment", e).field(f, v).time(t, WritePrecision.NS)
        if batch.fleet:
            point.tag("fleet", batch.fleet)
        reference.append(point.to_line_protocol())
    assert [_point_style(line) for line in ours] == reference
    # and the value text is the shortest repr: it parses back to the same double
    assert [float(line.rsplit(" ", 2)[1].split("=")[-1]) for line in ours] == batch.value.tolist()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            timestamps, ids, fields, st.sampled_from([q for q in Quality if q != Quality.GOOD]), st.text(max_size=20)
        ),
        min_size=1,
        max_size=20,
    ),
    tag_text,
)
def test_quality_matches_point(rows: list[tuple[int, str, str, Quality, str]], plant: str) -> None:
    batch = SampleBatch.from_rows("printer", [(t, e, f, None, q, d) for t, e, f, q, d in rows])
    ours = encode_quality(plant, prepare_batch(batch)).decode().split("\n")
    reference = [
        Point("quality")
        .tag("plant", plant)
        .tag("equipment", e)
        .tag("field", f)
        .field("code", float(q))
        .field("detail", d.replace("\n", " ").replace("\r", " "))
        .time(t, WritePrecision.NS)
        .to_line_protocol()
        for t, e, f, q, d in rows
    ]
    assert [_point_style(line) for line in ours] == reference


def test_connectivity_matches_point() -> None:
    events = [
        ConnectivityEvent(5, "mso-cpp-1", "modbus:mso-cpp-1", False, 'refused "x" \\ y'),
        ConnectivityEvent(6, "ev-robots", "opc ua,fleet=1", True),
    ]
    ours = encode_connectivity("plant 1", events).decode().split("\n")
    reference = [
        Point("connectivity")
        .tag("plant", "plant 1")
        .tag("equipment", e.equipment)
        .tag("source", e.source)
        .field("connected", 1.0 if e.connected else 0.0)
        .field("detail", e.detail)
        .time(e.ts_ns)
        .to_line_protocol()
        for e in events
    ]
    assert [_point_style(line) for line in ours] == reference


@settings(max_examples=100, deadline=None)
@given(st.lists(ledger_rows(), min_size=1, max_size=4), st.sampled_from(["shanghai-1", "plant 1,x=y"]))
def test_ledger_matches_point(rows: list[LedgerRow], plant: str) -> None:
    records = [encode(r) for r in rows]
    ours = encode_ledger(plant, records).decode().split("\n")
    reference = []
    for r in records:
        columns: Mapping[str, object] = r
        point = Point("kpi_ledger").tag("plant", plant).tag("equipment", r["equipment"]).time(r["shift_start_ns"])
        for name in ("shift_key", "crew", "kind", "fleet", "plant_version", "payload"):
            point = point.field(name, columns[name] or "")
        for name in ("shift_end_ns", "annotation_version", "watermark_ns", "samples_read", "computed_ns"):
            point = point.field(name, columns[name])
        reference.append(point.to_line_protocol())
    assert ours == reference


def test_nothing_to_encode_is_empty() -> None:
    batch = SampleBatch.from_rows("printer", [(1, "p", "state", None, Quality.BAD_STATUS, "x")])
    assert encode_values("plant", prepare_batch(batch)) == b""
