"""Counters an operator (and a test) can read while the collector runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Mode = Literal["idle", "subscription", "polling"]


@dataclass(slots=True)
class CollectorStats:
    mode: Mode = "idle"  # how values arrive on the current connection
    attempts: int = 0  # session opening attempts
    connects: int = 0  # sessions opened
    reconnects: int = 0  # sessions opened after a lost one
    publishes: int = 0  # publish responses, keep-alives included
    notifications: int = 0  # data-change items received
    polls: int = 0  # completed read cycles (polling mode)
    samples: int = 0  # samples handed to the sink (good and bad)
    create_item_requests: int = 0  # CreateMonitoredItems requests sent (one per batch)
    monitored_items: int = 0  # items the server accepted on this connection
    pending_items: int = 0  # items refused or unresolvable, being retried
    sink_errors: int = 0  # batches the sink rejected
    last_error: str = ""  # why the link is down, when it is
