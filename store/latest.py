"""Newest value per (measurement, equipment, field), kept in memory for the live display.

Updated on every write (vectorised: one pass picks each key's newest row of the
batch), and seeded once per equipment from the backend, so ``latest()`` costs a
dictionary lookup after the first call. The newest timestamp wins, whatever
order batches arrive in.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from shopfloor.store.assemble import factorize
from shopfloor.store.base import Latest, StoreError

log = logging.getLogger(__name__)

# (measurement, equipment ids) -> rows of (equipment, field, ts_ns, value) found in the backend
Seeder = Callable[[str, Sequence[str]], list[tuple[str, str, int, float]]]


class LatestCache:
    def __init__(self, seeder: Seeder) -> None:
        self._seeder = seeder
        self._lock = threading.Lock()
        self._values: dict[tuple[str, str], dict[str, tuple[int, float]]] = {}
        self._seeded: set[tuple[str, str]] = set()
        self._failing: str | None = None  # the seeding error last logged (each scrape and status call retries)

    def update(
        self,
        measurement: str,
        equipment: npt.NDArray[np.object_],
        field: npt.NDArray[np.object_],
        ts_ns: npt.NDArray[np.int64],
        value: npt.NDArray[np.float64],
    ) -> None:
        if len(ts_ns) == 0:
            return
        eq_codes, eq_names = factorize(equipment)
        f_codes, f_names = factorize(field)
        key = eq_codes * len(f_names) + f_codes
        # last row of each key after a stable sort by (key, ts) is its newest
        order = np.lexsort((ts_ns, key))
        sorted_key = key[order]
        last = order[np.r_[sorted_key[1:] != sorted_key[:-1], True]]
        with self._lock:
            for i in last.tolist():
                e, f = eq_names[eq_codes[i]], f_names[f_codes[i]]
                self._merge(measurement, str(e), str(f), int(ts_ns[i]), float(value[i]))

    def _merge(self, measurement: str, equipment: str, field: str, ts_ns: int, value: float) -> None:
        fields = self._values.setdefault((measurement, equipment), {})
        current = fields.get(field)
        if current is None or ts_ns >= current[0]:
            fields[field] = (ts_ns, value)

    def get(self, measurement: str, equipment_ids: Sequence[str]) -> Latest:
        with self._lock:
            unseeded = [e for e in equipment_ids if (measurement, e) not in self._seeded]
        rows: list[tuple[str, str, int, float]] | None = None
        if unseeded:
            try:
                rows = self._seeder(measurement, unseeded)  # outside the lock: it may do I/O
            except StoreError as exc:
                # The display still gets what this process wrote; seeding is retried next call, and a lasting
                # failure is logged once, not on every call.
                if str(exc) != self._failing:
                    self._failing = str(exc)
                    log.warning("latest(): cannot read stored values yet (%s)", exc)
                rows = None
        if unseeded and rows is not None:
            self._failing = None
            with self._lock:
                for e, f, ts, v in rows:
                    self._merge(measurement, e, f, ts, v)
                self._seeded.update((measurement, e) for e in unseeded)
        with self._lock:
            return {e: dict(self._values.get((measurement, e), {})) for e in equipment_ids}
