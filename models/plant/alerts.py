"""Andon alert rules and where alerts are sent: ``[[alerts.rules]]`` and ``[alerts.webhook]``.

Each rule has a kind; ``ALERT_KINDS`` is the one table of what each kind
watches (printers, robots or collector links) and which threshold key it
needs. A rule names its threshold with its unit (``stopped_longer_than_s``,
``charge_below_pct``, ``stale_polls``); a key another kind needs is refused,
so a rule never carries a threshold that silently does nothing. A kind may
take its threshold from elsewhere in the plant when the rule gives none
(``robot_charge_low``: the fleet's ``low_charge_pct``, the one home of the
low-charge level). Which
equipment ids a rule may name is checked against the whole plant in
``loading.Plant``. Evaluating rules is ``models/alerts.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from shopfloor.models.plant.common import FieldName, Identifier, PositiveFloat, StrictModel

# What a rule's equipment list names: printers, robots, or the links the collectors keep (a printer's own link,
# a fleet's one link for all its robots).
Scope = Literal["printer", "robot", "link"]
THRESHOLD_KEYS = ("stopped_longer_than_s", "stop_reasons", "charge_below_pct", "stale_polls", "attainment_below_pct")


class AlertKind(StrEnum):
    LINE_STOPPED = "line_stopped"
    STOP_REASON = "stop_reason"
    ROBOT_FAULT = "robot_fault"
    ROBOT_CHARGE_LOW = "robot_charge_low"
    LINK_DOWN = "link_down"
    DATA_STALE = "data_stale"
    HOURLY_ATTAINMENT_LOW = "hourly_attainment_low"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class KindSpec:
    scope: Scope
    threshold: str | None  # the key the rule must give (one of THRESHOLD_KEYS), None: none
    help: str
    # Where the threshold comes from when the rule leaves it out; None: the rule must give it.
    default_from: str | None = None


ALERT_KINDS: dict[AlertKind, KindSpec] = {
    AlertKind.LINE_STOPPED: KindSpec(
        "printer",
        "stopped_longer_than_s",
        "a printing line not running (planned maintenance and switched off excepted) for longer than the threshold",
    ),
    AlertKind.STOP_REASON: KindSpec(
        "printer", "stop_reasons", "a printing line stopped with one of the given stop reasons (their keys)"
    ),
    AlertKind.ROBOT_FAULT: KindSpec("robot", None, "a robot in state fault, or reporting an error code other than 0"),
    AlertKind.ROBOT_CHARGE_LOW: KindSpec(
        "robot", "charge_below_pct", "a robot's own battery below the threshold", "its fleet's low_charge_pct"
    ),
    AlertKind.LINK_DOWN: KindSpec("link", None, "a collector's link to a printer or a fleet is down"),
    AlertKind.DATA_STALE: KindSpec(
        "printer", "stale_polls", "a printer's newest sample is older than this many of its poll intervals"
    ),
    AlertKind.HOURLY_ATTAINMENT_LOW: KindSpec(
        "printer",
        "attainment_below_pct",
        "a closed hour of the shift (hour-by-hour board) made less than this share of its target",
    ),
}


class AlertRule(StrictModel):
    id: Identifier
    kind: AlertKind
    severity: Severity = Severity.WARNING
    # Equipment the rule watches (printer ids, robot ids, or printer/fleet ids for links); empty: all of them.
    equipment: Annotated[list[Identifier], Field(max_length=1000)] = Field(default_factory=list)
    stopped_longer_than_s: PositiveFloat | None = None
    stop_reasons: Annotated[list[FieldName], Field(min_length=1, max_length=100)] | None = None
    charge_below_pct: Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)] | None = None
    stale_polls: Annotated[int, Field(ge=1, le=10_000)] | None = None
    attainment_below_pct: Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)] | None = None

    @model_validator(mode="after")
    def _threshold_of_its_kind(self) -> AlertRule:
        spec = ALERT_KINDS[self.kind]
        if spec.threshold is not None and spec.default_from is None and getattr(self, spec.threshold) is None:
            raise ValueError(f"rule {self.id!r} of kind {self.kind.value!r} needs {spec.threshold} ({spec.help})")
        extra = [k for k in THRESHOLD_KEYS if k != spec.threshold and getattr(self, k) is not None]
        if extra:
            wanted = spec.threshold or "no threshold"
            raise ValueError(f"rule {self.id!r} of kind {self.kind.value!r} takes {wanted}, not {', '.join(extra)}")
        return self

    @property
    def scope(self) -> Scope:
        return ALERT_KINDS[self.kind].scope


class WebhookSettings(StrictModel):
    """POST each alert event (raised, cleared, acknowledged) as JSON to ``url``; see docs/alerts.md."""

    url: Annotated[str, StringConstraints(pattern=r"^https?://\S+$", max_length=2000)]
    # Name of an environment variable holding a bearer token for the receiver (never in the file, never logged).
    token_env: Annotated[str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]*$", max_length=64)] | None = None
    timeout_s: Annotated[float, Field(gt=0, le=60)] = 5.0
    retry_initial_s: Annotated[float, Field(gt=0, le=60)] = 1.0
    retry_max_s: Annotated[float, Field(gt=0, le=3600)] = 60.0
    # Events waiting for the receiver; past this the oldest are dropped and counted (memory stays bounded).
    max_queued: Annotated[int, Field(ge=1, le=100_000)] = 1000

    @model_validator(mode="after")
    def _backoff_ordered(self) -> WebhookSettings:
        if self.retry_max_s < self.retry_initial_s:
            raise ValueError("retry_max_s must be at least retry_initial_s")
        return self


class AlertSettings(StrictModel):
    rules: Annotated[list[AlertRule], Field(max_length=1000)] = Field(default_factory=list)
    webhook: WebhookSettings | None = None
    # GET /api/v1/alerts?state=recent lists the alerts raised within this many hours.
    recent_hours: Annotated[int, Field(ge=1, le=24 * 31)] = 24

    @model_validator(mode="after")
    def _unique_ids(self) -> AlertSettings:
        ids = [r.id for r in self.rules]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"alert rule ids must be unique, repeated: {', '.join(repeated)}")
        return self
