"""Ledger rows already decoded, kept by what their stored record holds.

A year-to-date report reads a year of ledger rows (a dozen thousand for the
built-in plant) every time its cache turns over; reading them from the store
takes a fraction of what decoding them does (JSON, then the totals' types,
then the row's checks), and they rarely change. So each decoded row is kept
under the identity of its record: the row's key, when it was computed
(``computed_ns``), and a hash of every other column, the payload included. A
row written again gets a new ``computed_ns`` (and any change in a column a new
hash), so a changed record is decoded afresh; the store remains the only truth,
and every read still asks it.

Bounded (least recently used out first): about 1 to 2 kB a row, so the bound
is a few hundred MB at most, a year of a plant of 100 robots.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Final

from shopfloor.models.ledger import RECORD_COLUMNS, LedgerRow

MAX_ROWS: Final = 120_000

_RecordId = tuple[object, ...]
_KEPT: Final = frozenset({"shift_start_ns", "equipment", "computed_ns"})


def record_id(record: Mapping[str, object]) -> _RecordId:
    """The row's key, when it was computed, and a hash of every other column (payload included): small, so a
    year of kept rows does not keep a year of their columns' text too."""
    rest = tuple(record.get(c) for c in RECORD_COLUMNS if c not in _KEPT)
    return (record.get("shift_start_ns"), record.get("equipment"), record.get("computed_ns"), hash(rest))


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
