"""Every error a client can cause is a small JSON 4xx; anything else is one 500 that keeps the connection.

* ``validation_failed``: FastAPI's 422 echoes each offending input back, whole:
  a 10 MB note came back as a 10 MB answer, and a NaN (which ``json.loads``
  accepts) made the answer itself unserialisable, a 500. Here each error keeps
  ``loc``, ``msg`` and ``type``, and ``input`` only as a short, JSON-safe excerpt.
* ``CatchAll``: the last line of defence, outside FastAPI's handlers. A bug
  must not turn into a traceback per request (a client can repeat a request
  thousands of times) nor reset the connection (Starlette re-raises after its
  500, and uvicorn then closes the socket): it answers a JSON 500, keeps the
  connection, logs the first traceback of each kind and counts the rest.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from shopfloor.api.lograte import Stretch

log = logging.getLogger("shopfloor.api")

MAX_ERRORS = 20  # a body with a thousand wrong fields gets the first twenty
MAX_INPUT_CHARS = 80  # what is shown of a wrong input
MAX_MSG_CHARS = 300


def _printable(text: str) -> str:
    """``text`` that JSON can carry: a lone surrogate (``"\\ud800"`` in a body) shown escaped, not raised on."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _excerpt(value: Any) -> Any:
    """A JSON-safe, short stand-in for an input: scalars as they are (finite numbers), strings cut, the rest
    named by type (a whole body or list is what the client sent: it has it)."""
    if value is None or isinstance(value, bool | int):
        return value if not isinstance(value, int) or abs(value) < 2**53 else str(value)[:MAX_INPUT_CHARS]
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str | bytes):
        text = _printable(value) if isinstance(value, str) else value.decode("utf-8", "replace")
        return text if len(text) <= MAX_INPUT_CHARS else f"{text[:MAX_INPUT_CHARS]}… ({len(text)} characters)"
    return f"<{type(value).__name__}>"


def _loc_part(part: Any) -> str | int:
    return part if isinstance(part, int) else _printable(str(part))[:MAX_INPUT_CHARS]


def compact_errors(errors: Any) -> list[dict[str, Any]]:
    out = []
    for error in list(errors)[:MAX_ERRORS]:
        item: dict[str, Any] = {
            "type": str(error.get("type", "")),
            "loc": [_loc_part(p) for p in error.get("loc", ())][:10],
            "msg": _printable(str(error.get("msg", "")))[:MAX_MSG_CHARS],
        }
        if "input" in error:
            item["input"] = _excerpt(error["input"])
        out.append(item)
    return out


async def validation_failed(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    body: dict[str, Any] = {"detail": compact_errors(errors)}
    if len(errors) > MAX_ERRORS:
        body["more_errors"] = len(errors) - MAX_ERRORS
    return JSONResponse(body, status_code=422)


class ErrorLog:
    """Unexpected errors by (route, exception type): the first traceback of a stretch, then counts."""

    def __init__(self) -> None:
        self._kinds: dict[tuple[str, str], Stretch] = {}

    def hit(self, scope: dict[str, Any], exc: Exception) -> None:
        method, route = scope.get("method"), getattr(scope.get("route"), "path", None) or "unmatched"
        key = (route, type(exc).__name__)
        stretch = self._kinds.get(key)
        if stretch is None:
            if len(self._kinds) >= 1000:
                self._kinds.clear()
            stretch = self._kinds[key] = Stretch(
                lambda: None,
                lambda n, s: log.error("%s %s failed with %s %d more times in %.3g s", method, route, key[1], n, s),
            )
        if stretch.hit():  # the first of a stretch: with its traceback; the rest are counted
            log.error("unexpected error in %s %s (repeats are counted)", method, route, exc_info=exc)

    def close(self) -> None:
        """Log the counts still pending (at shutdown)."""
        for stretch in list(self._kinds.values()):
            stretch.close()


class CatchAll:
    """Pure ASGI, outermost of the app's own middleware: an exception that escaped every handler becomes a JSON
    500 (if nothing was sent yet), logged in ``errors``."""

    def __init__(self, app: Any, errors: ErrorLog) -> None:
        self.app = app
        self.errors = errors

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            self.errors.hit(scope, exc)
            if started:
                return  # uvicorn closes a connection whose response was cut short; nothing else can be done
            response = JSONResponse({"detail": "internal error; it was logged on the server"}, status_code=500)
            await response(scope, receive, send)
