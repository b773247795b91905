"""The background threads that move spooled line protocol to InfluxDB.

* the syncer fsyncs the spool every flush interval (the bound on what a
  killed process can lose), and wakes the sender when there is new data;
* the sender owns spool → HTTP → ack: it sends the oldest unacknowledged
  records (in spool order, ``batch_size`` lines per request) through
  influxdb-client's synchronous write API and acks them once the server
  answered 2xx.

What a failure means (:func:`classify`):

* connection errors, timeouts, 429, 5xx, and 401/403/404 (a wrong token or a
  missing bucket is fixed by a person, and the data must still be there
  then): retried with exponential backoff capped at
  ``retry_interval * 2**max_retries``. The spool never gives up: records
  stay until the server takes them.
* 400/422 (malformed line, field-type conflict): the request is split in
  halves until the rejected line(s) are isolated; those go to the dead-letter
  file with the server's reason, all others are written. InfluxDB 1.x
  answers a partial write with 400 after storing the good points, so
  re-sending them on the way is harmless (a point overwrites itself).
* 413: split and retried in halves.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from shopfloor.store.influx.spool import Chunk, Position, Spool

log = logging.getLogger(__name__)


class Outcome(Enum):
    RETRY = "retry"
    REJECTED = "rejected"
    TOO_LARGE = "too_large"


@dataclass(frozen=True, slots=True)
class Failure:
    outcome: Outcome
    status: int | None
    reason: str
    retry_after_s: float | None = None


def classify(exc: BaseException) -> Failure:
    """What to do about an exception raised by the HTTP write. Never includes request headers (the token)."""
    status = getattr(exc, "status", None)
    if isinstance(status, int) and status > 0:
        body = getattr(exc, "body", None) or getattr(exc, "reason", "") or ""
        if isinstance(body, bytes):
            body = body.decode("utf-8", errors="replace")
        reason = f"HTTP {status}: {str(body).strip()[:500]}"
        retry_after = None
        headers = getattr(exc, "headers", None)
        if headers is not None and headers.get("Retry-After"):
            try:
                retry_after = float(headers.get("Retry-After"))
            except ValueError:
                retry_after = None
        if status in (400, 422):
            return Failure(Outcome.REJECTED, status, reason)
        if status == 413:
            return Failure(Outcome.TOO_LARGE, status, reason)
        return Failure(Outcome.RETRY, status, reason, retry_after)
    return Failure(Outcome.RETRY, None, f"{type(exc).__name__}: {str(exc)[:300]}")


def split_lines(payload: bytes) -> tuple[bytes, bytes] | None:
    """Two halves of a multi-line payload, cut at the newline nearest its middle; None for one line."""
    middle = len(payload) // 2
    cut = payload.rfind(b"\n", 0, middle + 1)
    if cut < 0:
        cut = payload.find(b"\n", middle)
    if cut < 0:
        return None
    return payload[:cut], payload[cut + 1 :]


class SpoolSender:
    def __init__(
        self,
        spool: Spool,
        send: Callable[[bytes], None],
        *,
        batch_size: int,
        flush_interval_s: float,
        retry_interval_s: float,
        max_retries: int,
        name: str = "influx",
    ) -> None:
        self.spool = spool
        self._send = send
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.retry_interval_s = retry_interval_s
        self.max_backoff_s = retry_interval_s * (2**max_retries)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._urgent = threading.Event()
        self._acked = threading.Condition()
        self.failures = 0  # consecutive failed attempts (0 = healthy)
        self.last_error: str | None = None
        # Lines the server acknowledged (2xx), counted once per acknowledged request: a line re-sent after
        # it was acknowledged counts twice, so tests can prove "exactly once" where InfluxDB itself cannot
        # tell (a re-sent point overwrites itself). Re-sending the good half of a 400 counts it again.
        self.sent_lines = 0
        self.dead_lettered_lines = 0
        self._syncer = threading.Thread(target=self._sync_loop, name=f"{name}-spool-sync", daemon=True)
        self._sender = threading.Thread(target=self._send_loop, name=f"{name}-sender", daemon=True)
        self._syncer.start()
        self._sender.start()

    # ------------------------------------------------------------- control

    def wake(self, urgent: bool = False) -> None:
        """New data (``urgent``: a flush or close wants an attempt now, even during a backoff)."""
        self._wake.set()
        if urgent:
            self._urgent.set()

    def wait_acked(self, target: Position, timeout_s: float) -> bool:
        """Block until the ack position reaches ``target`` (True) or the timeout passes (False)."""
        deadline = time.monotonic() + timeout_s
        with self._acked:
            while not self._reached(target):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._sender.is_alive():
                    return self._reached(target)
                self._acked.wait(min(remaining, 0.5))
        return True

    def _reached(self, target: Position) -> bool:
        ack = self.spool.ack_position
        return (ack.segment, ack.offset) >= (target.segment, target.offset)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._urgent.set()
        self._sender.join()
        self._syncer.join()

    # ------------------------------------------------------------- threads

    def _sync_loop(self) -> None:
        while not self._stop.wait(self.flush_interval_s):
            try:
                if self.spool.sync():
                    self._wake.set()
            except Exception:
                log.exception("spool %s: fsync failed", self.spool.directory)

    def _send_loop(self) -> None:
        while not self._stop.is_set():
            chunk = self.spool.read_chunk(self.batch_size)
            if chunk is None:
                self._wake.wait(self.flush_interval_s)
                self._wake.clear()
                continue
            if not self._deliver_chunk(chunk):
                self._backoff()

    def _deliver_chunk(self, chunk: Chunk) -> bool:
        payload = b"\n".join(r.payload for r in chunk.records)
        try:
            done = self._deliver(payload) if payload else True
        except Exception:  # a bug here must not kill the thread that owns the spool
            log.exception("unexpected error delivering spooled records; will retry")
            done = False
        if done:
            self.spool.ack(chunk)
            if self.failures:
                log.info("InfluxDB writes succeed again after %d failed attempts", self.failures)
            self.failures = 0
            self.last_error = None
            with self._acked:
                self._acked.notify_all()
        return done

    def _deliver(self, payload: bytes) -> bool:
        """True when every line is written or dead-lettered; False to retry later."""
        try:
            self._send(payload)
            self.sent_lines += payload.count(b"\n") + 1
            return True
        except Exception as exc:  # influxdb-client raises ApiException or urllib3/socket errors
            failure = classify(exc)
        if failure.outcome is Outcome.RETRY:
            self.last_error = failure.reason
            self._retry_after_s = failure.retry_after_s
            return False
        halves = split_lines(payload)
        if halves is None:
            self.spool.dead_letters.add(payload, failure.status, failure.reason)
            self.dead_lettered_lines += 1
            log.error("InfluxDB rejected a point, set aside in %s: %s", self.spool.dead_letters.path, failure.reason)
            return True
        return self._deliver(halves[0]) and self._deliver(halves[1])

    _retry_after_s: float | None = None

    def _backoff(self) -> None:
        self.failures += 1
        delay = min(self.retry_interval_s * 2 ** (self.failures - 1), self.max_backoff_s)
        if self._retry_after_s:
            delay = max(delay, min(self._retry_after_s, self.max_backoff_s))
        log.warning(
            "InfluxDB write failed (attempt %d, %s); samples stay spooled, retry in %.1f s",
            self.failures,
            self.last_error,
            delay,
        )
        # New data does not cut the wait short; a flush() or close() does, for one more attempt.
        self._urgent.wait(delay)
        self._urgent.clear()
