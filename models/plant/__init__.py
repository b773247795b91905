"""The plant model: one TOML file, validated once, the single source of truth.

Everything that differs between plants lives here: register maps, node ids,
teams, shifts, objectives, the conventional baseline, storage and API
settings, and the simulators' process parameters. Simulators and collectors
read the same objects, so what one serves is what the other reads.

One module per topic: ``common`` (identifiers, the strict base model, stop
reasons), ``modbus`` (printers), ``opcua`` (fleets), ``designs`` (print
designs and their ideal speeds), ``shifts``, ``teams``, ``objectives`` (the one table of team objective KPIs),
``alerts`` (andon rules), ``settings`` (baseline,
storage, API, KPI rules, simulation) and ``loading`` (the whole document and
reading it). Every public name is re-exported here, so callers import from
``shopfloor.models.plant``.

``load_plant(path)`` is the only entry point that touches the file system; a
bad file raises :class:`PlantFileError`, whose message names the file, the
key path and what was expected.
"""

from shopfloor.models.plant.alerts import (
    ALERT_KINDS,
    AlertKind,
    AlertRule,
    AlertSettings,
    KindSpec,
    Severity,
    WebhookSettings,
)
from shopfloor.models.plant.common import (
    FieldName,
    FiniteFloat,
    Identifier,
    NonNegativeFloat,
    PlantInfo,
    PositiveFloat,
    StopCategory,
    StopReason,
    StrictModel,
)
from shopfloor.models.plant.designs import NO_DESIGN, Design
from shopfloor.models.plant.loading import (
    DEFAULT_PLANT_RESOURCE,
    Plant,
    PlantFileError,
    load_plant,
    plant_from_dict,
)
from shopfloor.models.plant.modbus import (
    ModbusEndpoint,
    ModbusSignal,
    Printer,
    RegisterKind,
)
from shopfloor.models.plant.objectives import (
    OBJECTIVE_KPIS,
    Direction,
    FleetKpiSpec,
    ObjectiveKpi,
    ObjectiveKpiSpec,
    PrinterKpiSpec,
)
from shopfloor.models.plant.opcua import (
    DEFAULT_NODE_ID_TEMPLATE,
    NS_PLACEHOLDER,
    BrowseName,
    Fleet,
    OpcUaEndpoint,
    OpcUaVariantType,
    Robot,
    RobotVariable,
    SecurityMode,
    SecurityPolicy,
    default_robot_variables,
    opcua_password,
    parse_browse_path,
)
from shopfloor.models.plant.settings import (
    DEFAULT_MAX_UNSAVED_SAMPLES,
    ApiSettings,
    Baseline,
    EmbeddedStoreSettings,
    FleetSimulation,
    HostName,
    InfluxSettings,
    KpiSettings,
    PrinterSimulation,
    Simulation,
    StorageSettings,
)
from shopfloor.models.plant.shifts import (
    PlannedBreak,
    Shift,
    ShiftCalendar,
)
from shopfloor.models.plant.teams import Objective, Team, TeamKind

__all__ = [
    "ALERT_KINDS",
    "DEFAULT_MAX_UNSAVED_SAMPLES",
    "DEFAULT_NODE_ID_TEMPLATE",
    "DEFAULT_PLANT_RESOURCE",
    "NO_DESIGN",
    "NS_PLACEHOLDER",
    "OBJECTIVE_KPIS",
    "AlertKind",
    "AlertRule",
    "AlertSettings",
    "ApiSettings",
    "Baseline",
    "BrowseName",
    "Design",
    "Direction",
    "EmbeddedStoreSettings",
    "FieldName",
    "FiniteFloat",
    "Fleet",
    "FleetKpiSpec",
    "FleetSimulation",
    "HostName",
    "Identifier",
    "InfluxSettings",
    "KindSpec",
    "KpiSettings",
    "ModbusEndpoint",
    "ModbusSignal",
    "NonNegativeFloat",
    "Objective",
    "ObjectiveKpi",
    "ObjectiveKpiSpec",
    "OpcUaEndpoint",
    "OpcUaVariantType",
    "PlannedBreak",
    "Plant",
    "PlantFileError",
    "PlantInfo",
    "PositiveFloat",
    "Printer",
    "PrinterKpiSpec",
    "PrinterSimulation",
    "RegisterKind",
    "Robot",
    "RobotVariable",
    "SecurityMode",
    "SecurityPolicy",
    "Severity",
    "Shift",
    "ShiftCalendar",
    "Simulation",
    "StopCategory",
    "StopReason",
    "StorageSettings",
    "StrictModel",
    "Team",
    "TeamKind",
    "WebhookSettings",
    "default_robot_variables",
    "load_plant",
    "opcua_password",
    "parse_browse_path",
    "plant_from_dict",
]
