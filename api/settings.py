"""Typed API settings: what the plant file says, plus API keys from the environment.

Keys never sit in the plant file: ``[api] api_keys_env`` names the variable
(default ``SHOPFLOOR_API_KEYS``) holding comma-separated entries, each either
``label:key`` or a bare ``key``. The label is what the audit trail records as
"who"; a bare key gets the label ``key-N``. Keys themselves are never logged,
shown in ``repr`` or returned by the API.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shopfloor.models.plant import Plant

MAX_RANGE_DAYS = 31  # no request for raw series may ask for more: bounds memory and CPU per request
# KPI, team and savings endpoints: closed shifts come from the ledger (a year is a few thousand rows), so ten years
MAX_KPI_RANGE_DAYS = 3653
MIN_KEY_CHARS = 8


class SettingsError(ValueError):
    """A setting (plant file or environment) that cannot be used; the message says which and how to fix it.

    Commands turn it into one line on stderr and exit code 2, before anything starts.
    """


@dataclass(frozen=True, slots=True)
class ApiKey:
    label: str
    secret: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class ApiConfig:
    keys_env: str
    keys: tuple[ApiKey, ...] = field(repr=False, default=())
    max_range_days: int = MAX_RANGE_DAYS  # endpoints that return raw series (throughput, stops, notes)
    max_kpi_range_days: int = MAX_KPI_RANGE_DAYS  # ledger-backed KPI, team and savings endpoints
    snapshot_interval_s: float = 1.0  # live status snapshot cadence
    kpi_snapshot_interval_s: float = 2.0  # live KPI snapshot cadence (computing it reads the store)
    kpi_cache_s: float = 1.0  # a current-shift KPI result is reused this long (the display polls it often)
    # Host names a request may name in its Host header besides IP addresses and localhost ([api] allowed_hosts)
    allowed_hosts: tuple[str, ...] = ()
    # Web origins besides the server's own and loopback whose pages may open the live channel
    allowed_origins: tuple[str, ...] = ()
    max_body_bytes: int = 64 * 1024  # larger request bodies are refused with 413 before they are read

    @classmethod
    def from_env(cls, plant: Plant, env: Mapping[str, str] = os.environ, **overrides: Any) -> ApiConfig:
        """The plant's [api] settings and the keys in its environment variable; SettingsError if unusable."""
        name = plant.api.api_keys_env
        try:
            keys = parse_keys(env.get(name, ""))
        except ValueError as exc:
            raise SettingsError(f"environment variable {name}: {exc}") from None
        settings: dict[str, Any] = {
            "allowed_hosts": (*plant.api.allowed_hosts, *([plant.api.host] if plant.api.host else [])),
            "allowed_origins": tuple(plant.api.allowed_origins),
            "max_body_bytes": plant.api.max_body_bytes,
        }
        return cls(keys_env=name, keys=keys, **(settings | overrides))


def parse_keys(raw: str) -> tuple[ApiKey, ...]:
    """``"alice:s3cret-key,bob:other-key"`` -> keys; blank entries ignored, short keys refused."""
    out: list[ApiKey] = []
    for n, entry in enumerate((e.strip() for e in raw.split(",")), start=1):
        if not entry:
            continue
        label, sep, secret = entry.partition(":")
        if not sep:
            label, secret = f"key-{n}", entry
        label, secret = label.strip(), secret.strip()
        if len(secret) < MIN_KEY_CHARS:
            # Refuse rather than accept a guessable key; the message names the entry, not the key.
            raise ValueError(
                f"API key #{n} ({label or 'unlabelled'}) is shorter than {MIN_KEY_CHARS} characters;"
                " give every key at least that many (entries are comma-separated 'label:key')"
            )
        out.append(ApiKey(label=label or f"key-{n}", secret=secret.encode()))
    return tuple(out)
