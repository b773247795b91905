"""End-of-shift team reports: the objectives sheet filled in, as JSON or CSV."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from shopfloor.api.breakdowns import is_long
from shopfloor.api.deps import RangeDep, ServicesDep, not_found
from shopfloor.api.presenters import team_period_report_json, team_report_json
from shopfloor.api.schemas import TeamReport

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def report_csv(r: dict[str, Any]) -> str:
    """One sheet, sections separated by a blank line; a spreadsheet opens it as is (UTF-8 with BOM)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    team, rng = r["team"], r["range"]
    w.writerow(["team", team["team"], team["name"], team["name_zh"]])
    w.writerow(["shift", (rng["shift"] or {}).get("key", ""), rng["start"], rng["end"]])
    w.writerow(["score", _fmt(team["score"]), "rank", team["rank"]])
    w.writerow([])
    w.writerow(["objective", "name", "name_zh", "unit", "direction", "target", "actual", "attainment_pct", "weight"])
    for o in team["objectives"]:
        w.writerow(
            [
                o["kpi"],
                o["name"],
                o["name_zh"],
                o["unit"],
                o["direction"],
                _fmt(o["target"]),
                _fmt(o["actual"]),
                _fmt(o["attainment_pct"]),
                _fmt(o["weight"]),
            ]
        )
    w.writerow([])
    w.writerow(["downtime_reason", "name", "name_zh", "category", "downtime_min", "stops"])
    for p in r["top_downtime_reasons"]:
        w.writerow([p["key"], p["name"], p["name_zh"], p["category"], _fmt(p["downtime_min"]), p["stops"]])
    if r["energy_water"]:
        e, b = r["energy_water"], r["baseline"]
        w.writerow([])
        w.writerow(["resource", "actual", "baseline", "saving", "saving_pct", "actual_per_m", "baseline_per_m"])
        w.writerow(
            [
                "energy_kwh",
                _fmt(e["energy_kwh"]),
                _fmt(e["baseline_energy_kwh"]),
                _fmt(e["energy_saving_kwh"]),
                _fmt(e["energy_saving_pct"]),
                _fmt(e["energy_kwh_per_m"]),
                _fmt(b["energy_kwh_per_m"]),
            ]
        )
        w.writerow(
            [
                "water_l",
                _fmt(e["water_l"]),
                _fmt(e["baseline_water_l"]),
                _fmt(e["water_saving_l"]),
                _fmt(e["water_saving_pct"]),
                _fmt(e["water_l_per_m"]),
                _fmt(b["water_l_per_m"]),
            ]
        )
        w.writerow(["money_saving", _fmt(e["money_saving"]), e["currency"]])
        w.writerow(["co2_avoided_kg", _fmt(e["co2_avoided_kg"]), "kg"])
    return "\ufeff" + buf.getvalue()


@router.get(
    "/teams/{team_id}",
    summary="End-of-shift report of a team (default: the current shift)",
    response_model=TeamReport,
    responses={200: {"content": {"application/json": {}, "text/csv": {"schema": {"type": "string"}}}}},
)
async def team_report(
    team_id: str,
    services: ServicesDep,
    rng: RangeDep,
    format: Annotated[Literal["json", "csv"], Query(description="json or csv")] = "json",
) -> Any:
    if team_id not in {t.id for t in services.plant.teams}:
        raise not_found("team", team_id, [t.id for t in services.plant.teams])
    if is_long(rng):  # per shift only up to 31 days: the sheet from the ledger's sums
        total = (await services.breakdowns.get_async(rng)).total
        body = team_period_report_json(services.plant, rng, total, team_id)
    else:
        report = await services.kpi.report_async(rng)
        body = team_report_json(services.plant, rng, report, team_id)
    if format == "json":
        return body
    label = rng.shift.key if rng.shift else rng.period.label if rng.period else "range"
    name = f"{team_id}-{label.replace('/', '-')}.csv"
    return Response(
        report_csv(body),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
