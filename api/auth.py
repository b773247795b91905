"""API-key check for state-changing calls.

* no keys configured -> 403, saying how to configure them (secure by default:
  a fresh install accepts no operator input until someone sets keys);
* no ``X-API-Key`` header -> 401;
* a key that matches none -> 403.
Every configured key is compared with ``hmac.compare_digest`` (constant time,
and no early exit over the key list), so timing does not tell how much of a
key was right or which key was close. Keys never appear in logs or responses.
"""

from __future__ import annotations

import hmac

from fastapi import HTTPException, status

from shopfloor.api.settings import ApiConfig


def check_key(config: ApiConfig, presented: str | None) -> str:
    """The label of the matching key, or HTTPException."""
    if not config.keys:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"operator input is disabled: no API keys are configured. Set the environment variable"
            f" {config.keys_env} of the API server to comma-separated 'label:key' entries"
            f" (keys of at least 8 characters) and restart it.",
        )
    if not presented:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "this call changes data: send an API key in the X-API-Key header",
            headers={"WWW-Authenticate": "ApiKey"},
        )
    given = presented.encode()
    label = None
    for key in config.keys:
        if hmac.compare_digest(given, key.secret) and label is None:
            label = key.label
    if label is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the API key in X-API-Key is not accepted")
    return label
