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

With an outbox (``store/outbox.py``, in the annotations file) the waiting
events survive a restart: each queued event is written there by the sender's
task (in a worker thread) before it is first posted, and removed once the
receiver took or refused it or the full queue pushed it out; on start the
sender resends what is kept, oldest first, with the same keys. An outbox that
cannot be written (a full disk) is one log line per stretch; the events go on
from memory and are written when it takes them again.
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
from shopfloor.store.annotations import AnnotationStore
from shopfloor.store.base import StoreError
from shopfloor.store.outage import OutageLog
from shopfloor.store.outbox import WebhookOutbox

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


def webhook_outbox(annotations: AnnotationStore) -> WebhookOutbox | None:
    """The outbox in the annotations file; None (waiting events in memory only) for an in-memory file or one that
    cannot be opened (said once)."""
    if str(annotations.path) == ":memory:":
        return None
    try:
        return WebhookOutbox(annotations.path)
    except StoreError as exc:
        log.error("alert webhook: %s; waiting events are kept in memory only", exc)
        return None


class WebhookSender:
    def __init__(
        self, settings: WebhookSettings, *, outbox: WebhookOutbox | None = None, outage_period_s: float = 60.0
    ) -> None:
        self.settings = settings
        self.outbox = outbox
        self._queue: collections.deque[dict[str, Any]] = collections.deque()
        self._unsaved: dict[str, dict[str, Any]] = {}  # queued, not yet in the outbox (by idempotency key)
        self._finished: list[str] = []  # keys to remove from the outbox (delivered, refused, pushed out)
        self._writing: set[str] = set()  # keys being written to the outbox right now
        self._outbox_outage = OutageLog(log, "alert webhook outbox (annotations file)", period_s=outage_period_s)
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
        self.restored: int | None = None  # events read back from the outbox at start (None: not read, or unreadable)

    @property
    def queued(self) -> int:
        return len(self._queue)

    @property
    def waiting_keys(self) -> list[str]:
        """The idempotency keys of the events waiting, oldest first."""
        return [str(e["idempotency_key"]) for e in self._queue]

    def offer(self, event: dict[str, Any]) -> None:
        """Queue one event (call on the sender's event loop); returns at once."""
        if len(self._queue) >= self.settings.max_queued:
            self._done(self._queue.popleft())
            self.dropped += 1
            log.warning(
                "alert webhook: %d events waiting ([alerts.webhook] max_queued); dropped the oldest",
                self.settings.max_queued,
            )
        self._queue.append(event)
        if self.outbox is not None:
            self._unsaved[str(event["idempotency_key"])] = event
        self._ready.set()

    def _done(self, event: dict[str, Any]) -> None:
        """``event`` leaves the queue: from the outbox too (or it is never written there)."""
        if self.outbox is None:
            return
        key = str(event["idempotency_key"])
        if self._unsaved.pop(key, None) is None or key in self._writing:
            self._finished.append(key)

    async def _restore(self, outbox: WebhookOutbox) -> None:
        """What waited when the API last stopped goes first, oldest first (it is older than anything queued)."""
        try:
            kept, dropped = await asyncio.to_thread(outbox.waiting, self.settings.max_queued)
        except StoreError as exc:
            log.error("alert webhook: cannot read the events waiting from before this start (%s); not resent", exc)
            return
        if dropped:
            self.dropped += dropped
            log.warning("alert webhook: %d events waiting from before this start past max_queued; dropped", dropped)
        queued = {str(e["idempotency_key"]) for e in self._queue}
        older = [e for e in kept if str(e["idempotency_key"]) not in queued]
        self._queue.extendleft(reversed(older))
        while len(self._queue) > self.settings.max_queued:
            self._done(self._queue.popleft())
            self.dropped += 1
        self.restored = len(older)
        if older:
            log.info("alert webhook: resending %d events waiting from before this start", len(older))
            self._ready.set()

    async def _sync(self, outbox: WebhookOutbox) -> None:
        """Write what was queued and forget what left the queue; a failure is said once per stretch."""
        add, remove = list(self._unsaved.values()), list(self._finished)
        if not add and not remove:
            return
        self._writing = set(self._unsaved)
        try:
            await asyncio.to_thread(outbox.apply, add, remove)
        except StoreError as exc:
            self._writing = set()
            self._outbox_outage.failed(
                f"cannot keep the waiting events ({exc}); they are sent from memory and kept when it works again",
                f"{len(add)} to keep",
            )
            return
        self._writing = set()
        self._outbox_outage.recovered()
        for e in add:
            self._unsaved.pop(str(e["idempotency_key"]), None)
        del self._finished[: len(remove)]

    async def run(self) -> None:
        try:
            await self._run()
        finally:
            if self.outbox is not None:
                self.outbox.close()

    async def _run(self) -> None:
        delay = self.settings.retry_initial_s
        outbox = self.outbox
        if outbox is not None:
            await self._restore(outbox)
        async with httpx.AsyncClient(timeout=self.settings.timeout_s, follow_redirects=False) as client:
            while True:
                if outbox is not None:
                    await self._sync(outbox)
                if not self._queue:
                    self._ready.clear()
                    await self._ready.wait()
                    continue
                event = self._queue[0]
                problem = await self._post(client, event)
                if problem is None or problem == "refused":
                    self._queue.popleft()
                    self._done(event)
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
