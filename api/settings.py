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

from models.plant import Plant

MAX_RANGE_DAYS = 31  # no request may ask for more: bounds memory and CPU per request
MIN_KEY_CHARS = 8


@dataclass(frozen=True, slots=True)
class ApiKey:
    label: str
    secret: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class ApiConfig:
    keys_env: str
    keys: tuple[ApiKey, ...] = field(repr=False, default=())
    max_range_days: int = MAX_RANGE_DAYS
    snapshot_interval_s: float = 1.0  # live status snapshot cadence
    kpi_snapshot_interval_s: float = 2.0  # live KPI snapshot cadence (computing it reads the store)
    kpi_cache_s: float = 1.0  # a current-shift KPI result is reused this long (the display polls it often)

    @classmethod
    def from_env(cls, plant: Plant, env: Mapping[str, str] = os.environ, **overrides: float) -> ApiConfig:
        name = plant.api.api_keys_env
        return cls(keys_env=name, keys=parse_keys(env.get(name, "")), **overrides)  # type: ignore[arg-type]  # overrides: numeric fields by name


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
            raise ValueError(f"API key #{n} ({label}) is shorter than {MIN_KEY_CHARS} characters")
        out.append(ApiKey(label=label or f"key-{n}", secret=secret.encode()))
    return tuple(out)
