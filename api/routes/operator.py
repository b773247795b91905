"""Operator input: list stops, assign/correct a stop's reason, split a stop, add notes; the audit trail.

Every POST needs an API key (X-API-Key). Who is recorded as the key's label,
followed by the operator name given in the body, if any.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from shopfloor.api.deps import UNPROCESSABLE, OperatorDep, RawRangeDep, Services, ServicesDep, not_found
from shopfloor.api.presenters import range_json
from shopfloor.api.raw_window import require_raw
from shopfloor.api.schemas import Audit, NoteAdded, Notes, ReasonSet, Stops, StopSplit
from shopfloor.api.stops import list_stops
from shopfloor.api.timerange import RangeError, bounded_ns, iso
from shopfloor.models.timebase import NS_PER_S

router = APIRouter(prefix="/api/v1", tags=["operator input"])
MAX_STOP_DAYS = 7  # a stop longer than a week is a mistake in the request, not a stop


# Bodies: unknown keys refused; NaN and infinities refused (json.loads accepts them, no stored value may be one).
_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False)


class _Body(BaseModel):
    model_config = _STRICT
    operator: Annotated[str | None, Field(max_length=64, description="Name of the person, recorded as who")] = None
    comment: Annotated[str, Field(max_length=500)] = ""


class SetReason(_Body):
    start: dt.datetime = Field(description="Start of the stop (ISO 8601; no offset = plant-local)")
    end: dt.datetime = Field(description="End of the stop (exclusive)")
    reason_code: int = Field(ge=0, le=65535, description="A code from the plant's stop_reasons")


class SplitStop(_Body):
    start: dt.datetime
    end: dt.datetime
    split_at: dt.datetime = Field(description="Where the first part ends and the second begins")
    reason_before: int = Field(ge=0, le=65535)
    reason_after: int = Field(ge=0, le=65535)


class AddNote(BaseModel):
    model_config = _STRICT
    equipment: str = Field(max_length=64)
    text: str = Field(min_length=1, max_length=2000)
    at: dt.datetime | None = Field(default=None, description="Moment the note is about (default: now)")
    operator: Annotated[str | None, Field(max_length=64)] = None


def _ns(services: Services, moment: dt.datetime, name: str) -> int:
    """A body's time as epoch ns: within the years every request is bounded to, and not in the future."""
    try:
        ns = bounded_ns(services.plant, moment, name)
    except RangeError as exc:
        raise HTTPException(UNPROCESSABLE, str(exc)) from None
    if ns > services.clock_ns() + 60 * NS_PER_S:
        raise HTTPException(UNPROCESSABLE, f"{name} lies in the future")
    return ns


def _who(label: str, operator: str | None) -> str:
    return f"{operator.strip()} [{label}]" if operator and operator.strip() else label


def _printer(services: ServicesDep, printer_id: str) -> None:
    ids = [p.id for p in services.plant.printers]
    if printer_id not in ids:
        raise not_found("printing machine", printer_id, ids)


def _reason(services: ServicesDep, code: int, name: str) -> None:
    if code != 0 and services.plant.stop_reason(code) is None:
        known = ", ".join(f"{r.code} ({r.key})" for r in services.plant.stop_reasons)
        raise HTTPException(
            UNPROCESSABLE, f"{name} {code} is not a stop reason of this plant; known: 0 (none), {known}"
        )


def _stops(services: Services, printer_id: str, start_ns: int, end_ns: int) -> list[dict[str, Any]]:
    """The stops of ``[start_ns, end_ns)``, read from raw samples: 410 before the earliest kept."""
    require_raw(services.plant, services.store, start_ns, services.clock_ns(), "a list of stops")
    return list_stops(
        services.plant, services.store, services.annotations, printer_id, start_ns, end_ns, config=services.kpi.config
    )


def _stop_window(
    services: ServicesDep, printer_id: str, start_ns: int, end_ns: int
) -> tuple[int, int, list[dict[str, Any]]]:
    """The stop(s) a request means: refused if the machine did not stop then; edges snapped to the stops.

    ISO times carry microseconds and people type seconds, while samples carry
    nanoseconds: a bound within half a poll interval of a stop's edge is taken
    to mean that edge, so an override covers the stop exactly. Also returns the
    measured (collected) stop events inside the window: the audit's "before".
    """
    if end_ns <= start_ns:
        raise HTTPException(UNPROCESSABLE, "end must be after start")
    if end_ns - start_ns > MAX_STOP_DAYS * 86_400 * NS_PER_S:
        raise HTTPException(UNPROCESSABLE, f"a stop is at most {MAX_STOP_DAYS} days long")
    stops = _stops(services, printer_id, start_ns, end_ns)  # a stop whose samples are gone cannot be corrected
    if not stops:
        raise HTTPException(
            UNPROCESSABLE,
            f"{printer_id} did not stop between {iso(services.plant, start_ns)} and"
            f" {iso(services.plant, end_ns)}: pick a stop from GET /api/v1/printers/{printer_id}/stops",
        )
    tolerance = int(services.plant.printer(printer_id).modbus.poll_interval_s * NS_PER_S) // 2
    if abs(stops[0]["start_ns"] - start_ns) <= tolerance:
        start_ns = stops[0]["start_ns"]
    if abs(stops[-1]["end_ns"] - end_ns) <= tolerance:
        end_ns = stops[-1]["end_ns"]
    # What the machine reported, before any operator: kept with each change so no correction loses it.
    measured = [
        {k: seg[k] for k in ("start_ns", "end_ns", "reason_code", "reason_key", "element")}
        for stop in stops
        for seg in stop["measured"]
    ]
    return start_ns, end_ns, measured


@router.get(
    "/printers/{printer_id}/stops",
    summary="Stops with their reasons (after corrections) and notes",
    response_model=Stops,
)
async def stops(printer_id: str, services: ServicesDep, rng: RawRangeDep) -> dict[str, Any]:
    _printer(services, printer_id)
    found = await asyncio.to_thread(_stops, services, printer_id, rng.start_ns, rng.end_ns)
    return {"range": range_json(services.plant, rng), "equipment": printer_id, "stops": found}


@router.post(
    "/printers/{printer_id}/stops/reason",
    status_code=201,
    summary="Assign or correct the reason of a stop (needs X-API-Key)",
    response_model=ReasonSet,
)
async def set_reason(printer_id: str, body: SetReason, services: ServicesDep, who: OperatorDep) -> dict[str, Any]:
    _printer(services, printer_id)
    _reason(services, body.reason_code, "reason_code")
    start_ns, end_ns = _ns(services, body.start, "start"), _ns(services, body.end, "end")
    start_ns, end_ns, measured = await asyncio.to_thread(_stop_window, services, printer_id, start_ns, end_ns)
    row = await asyncio.to_thread(
        services.annotations.set_reason,
        printer_id,
        start_ns,
        end_ns,
        body.reason_code,
        _who(who, body.operator),
        body.comment,
        measured=measured,
    )
    return {"override": asdict(row), "audit": [asdict(a) for a in services.annotations.audit(printer_id, 1)]}


@router.post(
    "/printers/{printer_id}/stops/split",
    status_code=201,
    summary="Split a stop in two, each with its own reason (needs X-API-Key)",
    response_model=StopSplit,
)
async def split_stop(printer_id: str, body: SplitStop, services: ServicesDep, who: OperatorDep) -> dict[str, Any]:
    _printer(services, printer_id)
    _reason(services, body.reason_before, "reason_before")
    _reason(services, body.reason_after, "reason_after")
    start_ns, end_ns = _ns(services, body.start, "start"), _ns(services, body.end, "end")
    split_ns = _ns(services, body.split_at, "split_at")
    if not start_ns < split_ns < end_ns:
        raise HTTPException(UNPROCESSABLE, "split_at must lie strictly between start and end")
    start_ns, end_ns, measured = await asyncio.to_thread(_stop_window, services, printer_id, start_ns, end_ns)
    first, second = await asyncio.to_thread(
        services.annotations.split_stop,
        printer_id,
        start_ns,
        end_ns,
        split_ns,
        body.reason_before,
        body.reason_after,
        _who(who, body.operator),
        body.comment,
        measured=measured,
    )
    return {
        "overrides": [asdict(first), asdict(second)],
        "audit": [asdict(a) for a in services.annotations.audit(printer_id, 1)],
    }


@router.post(
    "/notes",
    status_code=201,
    summary="Add a note to a machine, fleet or robot (needs X-API-Key)",
    response_model=NoteAdded,
)
async def add_note(body: AddNote, services: ServicesDep, who: OperatorDep) -> dict[str, Any]:
    p = services.plant
    known = [x.id for x in p.printers] + [f.id for f in p.fleets] + [r.id for f in p.fleets for r in f.robots]
    if body.equipment not in known:
        raise not_found("equipment", body.equipment, known)
    at_ns = services.clock_ns() if body.at is None else _ns(services, body.at, "at")
    note = await asyncio.to_thread(
        services.annotations.add_note, body.equipment, at_ns, body.text, _who(who, body.operator)
    )
    return {"note": asdict(note)}


@router.get("/notes", summary="Notes in a time range", response_model=Notes)
async def notes(
    services: ServicesDep, rng: RawRangeDep, equipment: Annotated[str | None, Query(max_length=64)] = None
) -> dict[str, Any]:
    p = services.plant
    known = [x.id for x in p.printers] + [f.id for f in p.fleets] + [r.id for f in p.fleets for r in f.robots]
    if equipment is not None and equipment not in known:
        raise not_found("equipment", equipment, known)
    found = services.annotations.notes([equipment] if equipment else known, rng.start_ns, rng.end_ns)
    return {"range": range_json(p, rng), "notes": [asdict(n) | {"at": iso(p, n.ts_ns)} for n in found]}


@router.get("/audit", summary="Audit trail of operator input, newest first", response_model=Audit)
async def audit(
    services: ServicesDep,
    equipment: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    entries = services.annotations.audit(equipment, limit)
    return {"entries": [asdict(a) | {"at": iso(services.plant, a.ts_ns)} for a in entries]}
