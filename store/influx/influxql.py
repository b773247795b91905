"""InfluxQL for the reads: query text (pure) and the parsing of ``/query`` JSON into numpy.

InfluxQL over ``/query`` is served by InfluxDB 1.x, 2.x (through its DBRP
mapping of buckets) and 3.x; Flux is 2.x only, so reads use InfluxQL.
Responses are requested ``chunked`` so no server row limit truncates a long
range: the body is then several JSON documents, one per line, whose pieces
of one series are concatenated here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from shopfloor.store.base import StoreError


def ident(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def any_of(tag: str, values: Sequence[str]) -> str:
    return "(" + " OR ".join(f"{ident(tag)} = {literal(v)}" for v in values) + ")"


def where(
    plant_id: str, equipment_ids: Sequence[str] | None, start_ns: int | None, end_ns: int | None, extra: str = ""
) -> str:
    """The WHERE clause of one plant's points; ``equipment_ids=None``: of every equipment."""
    parts = [f"{ident('plant')} = {literal(plant_id)}"]
    if equipment_ids is not None:
        parts.append(any_of("equipment", equipment_ids))
    if start_ns is not None:
        parts.append(f"time >= {int(start_ns)}")  # integer literals are nanoseconds
    if end_ns is not None:
        parts.append(f"time < {int(end_ns)}")
    if extra:
        parts.append(extra)
    return " WHERE " + " AND ".join(parts)


@dataclass(slots=True)
class SeriesResult:
    name: str
    tags: dict[str, str]
    columns: list[str]
    values: list[list[Any]] = field(default_factory=list)

    def column(self, name: str) -> list[Any]:
        i = self.columns.index(name)
        return [row[i] for row in self.values]

    def times(self) -> npt.NDArray[np.int64]:
        return np.array(self.column("time"), dtype=np.int64)

    def floats(self, name: str) -> npt.NDArray[np.float64]:
        """A float column; JSON null (no value at that time) becomes NaN."""
        return np.array(self.column(name), dtype=np.float64)


def parse_response(body: bytes) -> list[list[SeriesResult]]:
    """Series per statement (in statement order) from a chunked or plain ``/query`` response."""
    statements: dict[int, dict[tuple[str, tuple[tuple[str, str], ...]], SeriesResult]] = {}
    for line in body.splitlines():
        if not line.strip():
            continue
        doc = json.loads(line)
        if "error" in doc:
            raise StoreError(f"InfluxQL query failed: {doc['error']}")
        for result in doc.get("results", []):
            sid = int(result.get("statement_id", 0))
            if "error" in result:
                raise StoreError(f"InfluxQL statement {sid} failed: {result['error']}")
            bucket = statements.setdefault(sid, {})
            for s in result.get("series", []):
                tags = dict(s.get("tags") or {})
                name = s.get("name", "")  # SHOW RETENTION POLICIES answers a series without a name
                key = (name, tuple(sorted(tags.items())))
                target = bucket.get(key)
                if target is None:
                    target = bucket[key] = SeriesResult(name, tags, list(s["columns"]))
                target.values.extend(s.get("values") or [])
    return [list(statements[i].values()) for i in sorted(statements)]
