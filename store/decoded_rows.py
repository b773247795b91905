"""Ledger rows already decoded, kept by what their stored record holds.

A year-to-date report reads a year of ledger rows (a dozen thousand for the
built-in plant) every time its cache turns over; reading them from the store
takes a fraction of what decoding them does (JSON, then the totals' types,
then the row's checks), and they rarely change. So each decoded row is kept
under the identity of its record: the row's key, when it was computed and by
what (``computed_ns``, plant and annotation versions, samples read, watermark),
and the payload's hash and length. A row written again gets a new
``computed_ns``, so a changed record is always decoded afresh; the store
remains the only truth, and every read still asks it.

Bounded (least recently used out first): about 1 to 2 kB a row, so the bound
is a few hundred MB at most, a year of a plant of 100 robots.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Final

from shopfloor.models.ledger import LedgerRow

MAX_ROWS: Final = 120_000

_RecordId = tuple[object, ...]


def record_id(record: Mapping[str, object]) -> _RecordId:
    payload = record.get("payload")
    return (
        record.get("shift_start_ns"),
        record.get("equipment"),
        record.get("computed_ns"),
        record.get("plant_version"),
        record.get("annotation_version"),
        record.get("samples_read"),
        record.get("watermark_ns"),
        record.get("shift_end_ns"),
        record.get("shift_key"),
        record.get("crew"),
        record.get("kind"),
        record.get("fleet"),
        hash(payload) if isinstance(payload, str) else None,
        len(payload) if isinstance(payload, str) else None,
    )


class DecodedRows:
    """Decoded ledger rows by record identity, least recently used out first; safe across threads."""

    def __init__(self, max_rows: int = MAX_ROWS) -> None:
        self.max_rows = max_rows
        self._rows: OrderedDict[_RecordId, LedgerRow] = OrderedDict()
        self._lock = threading.Lock()
        self.decoded = 0  # for tests: how many records were really decoded

    def get(self, record: Mapping[str, object], decode: Callable[[Mapping[str, object]], LedgerRow]) -> LedgerRow:
        key = record_id(record)
        with self._lock:
            row = self._rows.get(key)
            if row is not None:
                self._rows.move_to_end(key)
                return row
        row = decode(record)  # outside the lock: a bad record raises here, and is never kept
        with self._lock:
            self.decoded += 1
            self._rows[key] = row
            while len(self._rows) > self.max_rows:
                self._rows.popitem(last=False)
        return row
