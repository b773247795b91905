"""A small authenticated HTTP control channel for running simulators: fault injection on command.

``shopfloor simulate --control-port P`` serves this app (FastAPI, in the
simulators' own event loop, so an injection acts on the live servers between
two requests, exactly as the Python fault API does). ``shopfloor inject`` is
its client.

The API is deliberately tiny:

* ``GET  /v1/targets`` — what can be injected into (ids, kinds, aliases, faults);
* ``POST /v1/targets/{target}/faults/{fault}`` with a JSON object of arguments.

Every request needs ``Authorization: Bearer <key>`` (one random key per run):
the channel changes what a plant's monitoring sees, so it is never open, even
on 127.0.0.1 where other local users could reach it. Errors are 4xx with a
``{"detail": "..."}`` message a person can act on: unknown target, fault,
signal, robot, variable, status code or a bad argument.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from shopfloor.simulators.fleet.server import FleetSimulator
from shopfloor.simulators.printer.server import PrinterSimulator

log = logging.getLogger("shopfloor.simulators.control")

KEY_ENV = "SHOPFLOOR_CONTROL_KEY"
MIN_KEY_LENGTH = 16  # a key someone chose by hand must not be guessable in a few tries

Simulator = PrinterSimulator | FleetSimulator


# ---------------------------------------------------------------------- arguments of each fault


class _Args(BaseModel):
    # Unknown arguments are an error, not ignored: a typo must not silently inject something else.
    model_config = ConfigDict(extra="forbid")


class _NoArgs(_Args):
    pass


class _Switch(_Args):
    active: bool


class _PrinterException(_Args):
    signals: list[str] | None = None  # None: every read
    code: int

    @model_validator(mode="after")
    def _some_signals(self) -> _PrinterException:
        if self.signals is not None and not self.signals:
            raise ValueError("name at least one signal, or leave 'signals' out for every read")
        return self


class _PrinterValue(_Args):
    signal: str
    value: float | None = None
    words: list[int] | None = None

    @model_validator(mode="after")
    def _one_of(self) -> _PrinterValue:
        if (self.value is None) == (self.words is None):
            raise ValueError("give either an engineering 'value' or raw 'words', not both or neither")
        return self


class _FleetBadStatus(_Args):
    robot: str
    variable: str
    status: str | None  # None: the model's value again


class _FleetValue(_Args):
    robot: str
    variable: str
    value: float | int | bool


@dataclass(frozen=True)
class Fault:
    """One injectable fault: its argument model, what it does, and a line of help."""

    args: type[_Args]
    apply: Callable[[Any, Any], Awaitable[object]]
    help: str


async def _printer_stall(sim: PrinterSimulator, a: _Switch) -> None:
    sim.inject_stall(a.active)


async def _printer_exception(sim: PrinterSimulator, a: _PrinterException) -> None:
    sim.inject_exception(a.signals, a.code)


async def _printer_value(sim: PrinterSimulator, a: _PrinterValue) -> None:
    if a.words is not None:
        sim.inject_value(a.signal, a.words)
    else:
        assert a.value is not None  # _PrinterValue._one_of: exactly one of the two is given
        sim.inject_value(a.signal, a.value)


async def _printer_estop(sim: PrinterSimulator, a: _Switch) -> None:
    sim.inject_emergency_stop(a.active)


async def _printer_drop(sim: PrinterSimulator, _a: _NoArgs) -> int:
    return sim.inject_drop_connections()


async def _printer_clear(sim: PrinterSimulator, _a: _NoArgs) -> None:
    sim.clear_faults()


async def _fleet_stall(sim: FleetSimulator, a: _Switch) -> None:
    await sim.inject_stall(a.active)


async def _fleet_bad_status(sim: FleetSimulator, a: _FleetBadStatus) -> None:
    await sim.inject_bad_status(a.robot, a.variable, a.status)


async def _fleet_value(sim: FleetSimulator, a: _FleetValue) -> None:
    await sim.inject_value(a.robot, a.variable, a.value)


async def _fleet_drop(sim: FleetSimulator, _a: _NoArgs) -> int:
    return await sim.inject_drop_connections()


async def _fleet_clear(sim: FleetSimulator, _a: _NoArgs) -> None:
    await sim.clear_faults()


async def _fleet_restart(sim: FleetSimulator, _a: _NoArgs) -> None:
    await sim.restart()


PRINTER_FAULTS: dict[str, Fault] = {
    "stall": Fault(_Switch, _printer_stall, "requests are received and never answered (active: true/false)"),
    "exception": Fault(
        _PrinterException, _printer_exception, "reads touching 'signals' (default: all) get Modbus exception 'code'"
    ),
    "value": Fault(_PrinterValue, _printer_value, "serve 'value' or raw 'words' for 'signal'"),
    "estop": Fault(_Switch, _printer_estop, "emergency stop pressed/released (active: true/false)"),
    "drop": Fault(_NoArgs, _printer_drop, "close every client connection now"),
    "clear": Fault(_NoArgs, _printer_clear, "end every injected fault"),
}

FLEET_FAULTS: dict[str, Fault] = {
    "stall": Fault(_Switch, _fleet_stall, "stop answering and publishing (active: true/false)"),
    "bad-status": Fault(
        _FleetBadStatus, _fleet_bad_status, "serve 'robot' 'variable' with OPC UA 'status' (null: model value again)"
    ),
    "value": Fault(_FleetValue, _fleet_value, "serve 'value' for 'robot' 'variable'"),
    "drop": Fault(_NoArgs, _fleet_drop, "close every session and connection now"),
    "clear": Fault(_NoArgs, _fleet_clear, "end every injected fault"),
    "restart": Fault(_NoArgs, _fleet_restart, "stop and start the server (a controller reboot)"),
}


# ---------------------------------------------------------------------- targets


@dataclass(frozen=True)
class Target:
    id: str
    kind: Literal["printer", "fleet"]
    simulator: Simulator
    faults: dict[str, Fault]


def targets_of(simulators: Sequence[Simulator]) -> tuple[dict[str, Target], dict[str, str]]:
    """Targets by equipment id, and the aliases ``printer``/``fleet`` when only one of that kind runs."""
    targets: dict[str, Target] = {}
    for sim in simulators:
        if isinstance(sim, PrinterSimulator):
            target = Target(sim.printer.id, "printer", sim, PRINTER_FAULTS)
        else:
            target = Target(sim.fleet.id, "fleet", sim, FLEET_FAULTS)
        targets[target.id] = target
    aliases: dict[str, str] = {}
    for kind in ("printer", "fleet"):
        ids = [t.id for t in targets.values() if t.kind == kind]
        if len(ids) == 1 and kind not in targets:
            aliases[kind] = ids[0]
    return targets, aliases


def _message(exc: BaseException) -> str:
    # str(KeyError("x")) is "'x'" with quotes; the message itself reads better.
    return str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"])
        text = error["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {text}" if where else text)
    return "; ".join(parts)


def create_control_app(simulators: Sequence[Simulator], key: str) -> FastAPI:
    """The control API over these running simulators, refusing every request without ``key``."""
    if len(key) < MIN_KEY_LENGTH:
        raise ValueError(f"a control key must be at least {MIN_KEY_LENGTH} characters long")
    targets, aliases = targets_of(simulators)
    expected = f"Bearer {key}".encode()
    # No /docs or /openapi.json: nothing about this channel is served to a caller without the key.
    app = FastAPI(title="shopfloor simulator control", docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def require_key(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        given = request.headers.get("authorization")
        if given is None:
            return JSONResponse(
                {"detail": "a control key is required (Authorization: Bearer <key>)"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        # Constant-time comparison: response timing must not reveal how much of a guess was right.
        if not secrets.compare_digest(given.encode(), expected):
            log.warning(
                "control: refused a request with a wrong key from %s", request.client.host if request.client else "?"
            )
            return JSONResponse({"detail": "wrong control key"}, status_code=403)
        return await call_next(request)

    def resolve(name: str) -> Target:
        target = targets.get(aliases.get(name, name))
        if target is None:
            known = sorted(targets) + sorted(aliases)
            raise HTTPException(404, f"no simulator {name!r} is running; targets: {', '.join(known)}")
        return target

    @app.get("/v1/targets")
    async def list_targets() -> dict[str, Any]:
        return {
            "targets": [
                {
                    "id": t.id,
                    "kind": t.kind,
                    "aliases": sorted(a for a, i in aliases.items() if i == t.id),
                    "faults": {name: f.help for name, f in t.faults.items()},
                }
                for t in targets.values()
            ]
        }

    @app.post("/v1/targets/{target_name}/faults/{fault_name}")
    async def inject(target_name: str, fault_name: str, request: Request) -> dict[str, Any]:
        target = resolve(target_name)
        fault = target.faults.get(fault_name)
        if fault is None:
            raise HTTPException(
                404, f"{target.kind} {target.id!r} has no fault {fault_name!r}; faults: {', '.join(target.faults)}"
            )
        raw = await request.body()
        try:
            args = fault.args.model_validate_json(raw or b"{}")
        except ValidationError as exc:
            raise HTTPException(400, f"{target.kind} {fault_name}: {_validation_message(exc)}") from None
        try:
            result = await fault.apply(target.simulator, args)
        except KeyError as exc:  # unknown signal, robot or variable
            raise HTTPException(404, _message(exc)) from None
        except ValueError as exc:  # unsupported code, status name, word count, value out of the type
            raise HTTPException(400, _message(exc)) from None
        except RuntimeError as exc:  # e.g. the fleet server is between stop and start
            raise HTTPException(409, _message(exc)) from None
        shown = " ".join(f"{k}={v!r}" for k, v in args.model_dump(exclude_none=True).items())
        message = f"{target.kind} {target.id}: {fault_name} {shown}".rstrip()
        log.info("control: %s", message)
        # The arguments go back as text: JSON has no NaN, and injecting a NaN is a legitimate fault.
        return {"target": target.id, "kind": target.kind, "fault": fault_name, "message": message, "result": result}

    return app
