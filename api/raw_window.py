"""Where the raw samples begin: a request that needs them from before then is answered 410 Gone.

Raw samples are kept ``[storage] raw_retention_days`` (docs/storage.md, "Raw
retention"); the store says from when on it holds them whole
(``SampleStore.raw_kept_since_ns``). What needs raw samples: a printer's
throughput, its stops (and the operator's corrections of them, which are made
on stops), a report's hourly metres, and the parts of a KPI report the ledger
does not hold (part of a shift, or a shift whose row an operator's correction
made stale). Shifts, days, months and years before then come from the ledger.
"""

from __future__ import annotations

from shopfloor.api.timerange import iso
from shopfloor.models.plant import Plant
from shopfloor.store.base import SampleStore

GONE = 410  # the samples existed and were removed on purpose, for good: not the caller's typo (422), not a pause (503)


class RawSamplesExpired(Exception):
    """A request needs raw samples from before the earliest one kept; the message says what to ask instead."""

    def __init__(self, message: str, kept_since_ns: int) -> None:
        super().__init__(message)
        self.kept_since_ns = kept_since_ns


def expired(plant: Plant, what: str, start_ns: int, kept_since_ns: int, instead: str) -> RawSamplesExpired:
    return RawSamplesExpired(
        f"{what} needs raw samples from {iso(plant, start_ns)}, but raw samples are kept for"
        f" {plant.storage.raw_retention_days} days ([storage] raw_retention_days) and the earliest kept is"
        f" {iso(plant, kept_since_ns)}: {instead}",
        kept_since_ns,
    )


def require_raw(plant: Plant, store: SampleStore, start_ns: int, now_ns: int, what: str) -> None:
    """Raise :class:`RawSamplesExpired` when raw samples from ``start_ns`` on are no longer all kept."""
    kept = store.raw_kept_since_ns(now_ns)
    if kept is not None and start_ns < kept:
        raise expired(
            plant,
            what,
            start_ns,
            kept,
            "ask for a range starting at or after it; KPIs of older shifts, days, months and years come from"
            " the ledger (e.g. GET /api/v1/kpis?shift=…)",
        )


def raw_kept(store: SampleStore, start_ns: int, now_ns: int) -> bool:
    """Whether every raw sample from ``start_ns`` on is still kept."""
    kept = store.raw_kept_since_ns(now_ns)
    return kept is None or start_ns >= kept
