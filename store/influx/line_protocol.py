"""InfluxDB line protocol, built from a batch's numpy columns without a Python object per sample.

One line per sample (``printer,equipment=mso-cpp-1,plant=p speed_m_min=80.0 1700…``):
the tag prefix and the field key are escaped once per distinct value, then
numpy's ``StringDType`` ufuncs (``np.strings.add``) glue the columns together
and format every float with its shortest round-trip repr, so a value reads
back bit for bit. Escaping follows influxdb-client's ``Point`` (the reference
the tests compare against). Tags are written sorted by key, as InfluxDB
recommends.

Every numeric field of the samples is a float (no ``i`` suffix), per the
data contract. Line protocol cannot carry a newline inside a string field, so
newlines in a quality or connectivity ``detail`` become spaces. The KPI
ledger's points (:func:`encode_ledger`) carry integers (``i``): nanosecond
times and counts a float64 would round.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from shopfloor.models.contract import (
    CONNECTIVITY_FIELD_CONNECTED,
    CONNECTIVITY_FIELD_DETAIL,
    LEDGER_INTEGER_FIELDS,
    LEDGER_TEXT_FIELDS,
    MEASUREMENT_CONNECTIVITY,
    MEASUREMENT_LEDGER,
    MEASUREMENT_QUALITY,
    QUALITY_FIELD_CODE,
    QUALITY_FIELD_DETAIL,
    TAG_EQUIPMENT,
    TAG_FIELD,
    TAG_FLEET,
    TAG_PLANT,
    TAG_SOURCE,
)
from shopfloor.models.ledger import LedgerRecord
from shopfloor.models.samples import ConnectivityEvent
from shopfloor.store.assemble import factorize
from shopfloor.store.prepare import PreparedBatch

_STR = np.dtypes.StringDType()

_ESCAPE_MEASUREMENT = str.maketrans({",": r"\,", " ": r"\ ", "\n": r"\n", "\t": r"\t", "\r": r"\r"})
_ESCAPE_KEY = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n", "\t": r"\t", "\r": r"\r"})
_ESCAPE_STRING = str.maketrans({'"': r"\"", "\\": r"\\", "\n": " ", "\r": " "})


def escape_measurement(name: str) -> str:
    return name.translate(_ESCAPE_MEASUREMENT)


def escape_key(key: str) -> str:
    """Tag keys, tag values and field keys."""
    return key.translate(_ESCAPE_KEY)


def escape_tag_value(value: str) -> str:
    """As influxdb-client does: a trailing backslash would escape the separator after it."""
    escaped = value.translate(_ESCAPE_KEY)
    return escaped + " " if escaped.endswith("\\") else escaped


def quote_string(value: str) -> str:
    return '"' + value.translate(_ESCAPE_STRING) + '"'


def series_key(measurement: str, tags: dict[str, str]) -> str:
    """``measurement,k=v,…`` with tags sorted by key; empty tag values are left out (InfluxDB forbids them)."""
    parts = [escape_measurement(measurement)]
    parts += [f"{escape_key(k)}={escape_tag_value(v)}" for k, v in sorted(tags.items()) if v != ""]
    return ",".join(parts)


def _per_distinct(values: npt.NDArray[np.object_], fn: Callable[[object], str]) -> npt.NDArray[np.str_]:
    """Render each distinct value once and broadcast the result to every row."""
    codes, names = factorize(values)
    rendered = np.array([fn(n) for n in names], dtype=_STR)
    return rendered[codes]


def _join_lines(parts: list[npt.NDArray[np.str_]]) -> bytes:
    if len(parts[0]) == 0:
        return b""
    out = parts[0]
    for part in parts[1:]:
        out = np.strings.add(out, part)
    return "\n".join(out.tolist()).encode("utf-8")


@lru_cache(maxsize=65536)
def _value_prefix(measurement: str, plant_id: str, fleet: str, equipment: str) -> str:
    tags = {TAG_PLANT: plant_id, TAG_EQUIPMENT: equipment}
    if fleet:
        tags[TAG_FLEET] = fleet
    return series_key(measurement, tags) + " "


@lru_cache(maxsize=65536)
def _field_assign(field: str) -> str:
    return escape_key(field) + "="


def encode_values(plant_id: str, p: PreparedBatch) -> bytes:
    """Lines for the GOOD values of a prepared batch (``b""`` when there are none)."""
    if len(p.ts_ns) == 0:
        return b""
    # Escaping is memoised per distinct id: a plant has a few hundred series, batches repeat them.
    return _join_lines(
        [
            _per_distinct(p.equipment, lambda e: _value_prefix(p.measurement, plant_id, p.fleet, str(e))),
            _per_distinct(p.field, lambda f: _field_assign(str(f))),
            p.value.astype(_STR),
            np.full(len(p.ts_ns), " ", dtype=_STR),
            p.ts_ns.astype(_STR),
        ]
    )


def encode_quality(plant_id: str, p: PreparedBatch) -> bytes:
    """Lines of measurement ``quality`` for the bad samples of a prepared batch."""
    n = len(p.q_ts_ns)
    if n == 0:
        return b""
    codes, names = factorize(
        np.array([f"{e}\0{f}" for e, f in zip(p.q_equipment, p.q_field, strict=True)], dtype=object)
    )
    prefixes = []
    for name in names:
        equipment, field = str(name).split("\0")
        tags = {TAG_PLANT: plant_id, TAG_EQUIPMENT: equipment, TAG_FIELD: field}
        prefixes.append(series_key(MEASUREMENT_QUALITY, tags) + f" {QUALITY_FIELD_CODE}=")
    details = np.array([f",{QUALITY_FIELD_DETAIL}={quote_string(str(d))} " for d in p.q_detail], dtype=_STR)
    return _join_lines(
        [
            np.array(prefixes, dtype=_STR)[codes],
            p.q_code.astype(np.float64).astype(_STR),
            details,
            p.q_ts_ns.astype(_STR),
        ]
    )


def encode_connectivity(plant_id: str, events: Sequence[ConnectivityEvent]) -> bytes:
    lines = []
    for e in events:
        key = series_key(
            MEASUREMENT_CONNECTIVITY, {TAG_PLANT: plant_id, TAG_EQUIPMENT: e.equipment, TAG_SOURCE: e.source}
        )
        connected = "1.0" if e.connected else "0.0"
        lines.append(
            f"{key} {CONNECTIVITY_FIELD_CONNECTED}={connected},"
            f"{CONNECTIVITY_FIELD_DETAIL}={quote_string(e.detail or '')} {int(e.ts_ns)}"
        )
    return "\n".join(lines).encode("utf-8")


def encode_ledger(plant_id: str, records: Sequence[LedgerRecord]) -> bytes:
    """One point per ledger row at its shift's start, in the series of its equipment: a row written again for the
    same shift and equipment lands on the same series and time, and replaces every field of the old one."""
    lines = []
    for record in records:
        plain: Mapping[str, object] = record  # read by field name
        key = series_key(MEASUREMENT_LEDGER, {TAG_PLANT: plant_id, TAG_EQUIPMENT: record["equipment"]})
        fields = {f: f"{escape_key(f)}={quote_string(str(plain[f] or ''))}" for f in LEDGER_TEXT_FIELDS}
        fields |= {f: f"{escape_key(f)}={plain[f]:d}i" for f in LEDGER_INTEGER_FIELDS}  # ints: encode() checked them
        # sorted by key, as influxdb-client's Point writes them (the tests compare the two)
        lines.append(f"{key} {','.join(fields[f] for f in sorted(fields))} {record['shift_start_ns']:d}")
    return "\n".join(lines).encode("utf-8")


_LEDGER_PREFIX = (MEASUREMENT_LEDGER + ",").encode("utf-8")


def split_ledger_lines(payload: bytes) -> tuple[bytes, bytes]:
    """(sample lines, ledger lines) of a payload: the ledger goes to a retention policy of its own, which outlives
    the samples'. A line's measurement is where it starts; a payload without ledger lines is not split."""
    if not payload.startswith(_LEDGER_PREFIX) and b"\n" + _LEDGER_PREFIX not in payload:
        return payload, b""
    lines = payload.split(b"\n")
    ledger = [line for line in lines if line.startswith(_LEDGER_PREFIX)]
    samples = [line for line in lines if not line.startswith(_LEDGER_PREFIX)]
    return b"\n".join(samples), b"\n".join(ledger)


def join_chunks(chunks: Sequence[bytes]) -> bytes:
    return b"\n".join(c for c in chunks if c)
