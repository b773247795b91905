"""Alert events to a webhook: POST JSON, at least once, in order, never holding up anything else.

``WebhookSender.offer()`` only appends to a bounded queue (the alert service
calls it and goes on); a task of its own posts the oldest event until the
receiver answers 2xx, waiting ``retry_initial_s`` after a failure, doubling up
to ``retry_max_s``. Each event carries an ``Idempotency-Key`` header (and
``idempotency_key`` in the body): the alert's id and the transition, the same
on every retry, so a receiver that saw a post whose answer was lost can drop
the repeat. A receiver down is one log line when it starts, one a minute while
it lasts and one when it ends (``OutageLog``), never a line per attempt; a 4xx
other than 408 and 429 is the receiver refusing that event: logged once and
dropped, since repeating it cannot succeed. Past ``max_queued`` waiting events
the oldest are dropped and counted. The bearer token (``token_env``) is sent,
never logged; nor are the URL's user info and query.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import urllib.parse
from typing import Any

import httpx

from shopfloor.models.plant import WebhookSettings
from shopfloor.store.outage import OutageLog

log = logging.getLogger("shopfloor.api.webhook")

RETRIED_4XX = frozenset({408, 429})


def shown_url(url: str) -> str:
    """The URL as logged: without user info, query and fragment, where a receiver's secrets may sit."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class WebhookSender:
    def __init__(self, settings: WebhookSettings, *, outage_period_s: float = 60.0) -> None:
        self.settings = settings
        self._queue: collections.deque[dict[str, Any]] = collections.deque()
        self._ready = asyncio.Event()
        self._outage = OutageLog(log, f"alert webhook {shown_url(settings.url)}", period_s=outage_period_s)
        self._headers = {"content-type": "application/json"}
        if settings.token_env:
            token = os.environ.get(settings.token_env)
            if token:
                self._headers["authorization"] = f"Bearer {token}"
            else:
                log.warning("alert webhook: %s is not set; posting without a token", settings.token_env)
        self.delivered = 0
        self.dropped = 0  # refused by the receiver, or pushed out of a full queue
        self.failed_attempts = 0

    @property
    def queued(self) -> int:
        return len(self._queue)

    def offer(self, event: dict[str, Any]) -> None:
        """Queue one event (call on the sender's event loop); returns at once."""
        if len(self._queue) >= self.settings.max_queued:
            self._queue.popleft()
            self.dropped += 1
            log.warning(
                "alert webhook: %d events waiting ([alerts.webhook] max_queued); dropped the oldest",
                self.settings.max_queued,
            )
        self._queue.append(event)
        self._ready.set()

    async def run(self) -> None:
        delay = self.settings.retry_initial_s
        async with httpx.AsyncClient(timeout=self.settings.timeout_s, follow_redirects=False) as client:
            while True:
                if not self._queue:
                    self._ready.clear()
                    await self._ready.wait()
                    continue
                event = self._queue[0]
                problem = await self._post(client, event)
                if problem is None or problem == "refused":
                    self._queue.popleft()
                    delay = self.settings.retry_initial_s
                    continue
                self.failed_attempts += 1
                self._outage.failed(
                    f"{problem}; retrying with backoff up to {self.settings.retry_max_s:g} s",
                    f"{len(self._queue)} events waiting",
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.retry_max_s)

    async def _post(self, client: httpx.AsyncClient, event: dict[str, Any]) -> str | None:
        """None when delivered, "refused" when the receiver refused it for good, else what went wrong."""
        headers = self._headers | {"idempotency-key": str(event["idempotency_key"])}
        try:
            response = await client.post(self.settings.url, json=event, headers=headers)
        except httpx.HTTPError as exc:
            said = str(exc).replace(self.settings.url, shown_url(self.settings.url))
            return f"cannot post: {type(exc).__name__}: {said}"
        if response.is_success:
            self.delivered += 1
            self._outage.recovered()
            return None
        if 400 <= response.status_code < 500 and response.status_code not in RETRIED_4XX:
            self.dropped += 1
            self._outage.recovered()  # the receiver is up: it answered
            log.warning(
                "alert webhook: the receiver refused event %s with HTTP %d; dropped (it would refuse it again)",
                event["idempotency_key"],
                response.status_code,
            )
            return "refused"
        return f"the receiver answered HTTP {response.status_code}"
