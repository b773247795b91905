"""Batches a store refuses (they break the data contract): logged with the reason and set aside, never dropped.

Both stores call :meth:`RefusedBatches.refuse` when :func:`store.prepare.prepare_batch`
raises. The batch goes, as plain JSON rows with the reason, to a dead-letter
file (InfluxDB: the spool's ``dead-letter.jsonl``, next to the lines the server
rejected; DuckDB: ``<file>.dead-letter.jsonl`` next to the database), and the
``ValueError`` is re-raised so the caller knows (the collectors catch it, count
it and keep polling). A collector with a bad map refuses the same way on every
poll, so each distinct reason is logged once, not once per batch.
"""

from __future__ import annotations

import logging
import math
import threading
from typing import Any

import numpy as np

from shopfloor.models.samples import SampleBatch
from shopfloor.store.dead_letters import DeadLetters


def batch_rows(batch: SampleBatch) -> list[list[Any]]:
    """``[ts_ns, equipment, field, value, quality, detail]`` per sample, JSON-safe whatever the batch holds."""

    def plain(x: Any) -> Any:
        if isinstance(x, np.generic):
            x = x.item()
        if isinstance(x, float) and not math.isfinite(x):
            return repr(x)  # JSON has no NaN/inf; keep what was sent, as text
        if x is None or isinstance(x, bool | int | float | str):
            return x
        return str(x)

    columns = (batch.ts_ns, batch.equipment, batch.field, batch.value, batch.quality, batch.detail)
    # a refused batch may be broken in any way: list what lines up rather than fail
    return [[plain(v) for v in row] for row in zip(*(np.asarray(c).tolist() for c in columns), strict=False)]


class RefusedBatches:
    def __init__(self, dead_letters: DeadLetters, log: logging.Logger) -> None:
        self.dead_letters = dead_letters
        self.count = 0  # batches set aside since the store was opened
        self._log = log
        self._reasons_logged: set[str] = set()
        self._lock = threading.Lock()

    def refuse(self, batch: SampleBatch, exc: ValueError) -> ValueError:
        """Set ``batch`` aside with the reason; returns the error to raise (its message names the file)."""
        reason = str(exc)
        try:
            rows = batch_rows(batch)
        except Exception as conversion:  # a batch too broken to list: still keep what can be said about it
            rows = [[f"unlistable batch: {type(conversion).__name__}: {conversion}"]]
        self.dead_letters.add_rows(rows, batch.measurement, batch.fleet, reason)
        with self._lock:
            self.count += 1
            first = reason not in self._reasons_logged
            self._reasons_logged.add(reason)
        if first:
            self._log.error(
                "refused a %s batch of %d sample(s): %s; set aside in %s (further batches refused"
                " for the same reason are set aside without this line)",
                batch.measurement,
                len(rows),
                reason,
                self.dead_letters.path,
            )
        return ValueError(f"{reason} (batch set aside in {self.dead_letters.path})")
