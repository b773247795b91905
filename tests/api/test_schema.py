"""Schemathesis against the app's own OpenAPI document: generated requests never cause a 5xx.

Requests carry a valid API key, so the operator-input endpoints are exercised
past authentication (their validation is what is under test). Bounded: a few
examples per operation, no deadline (two shared cores).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from shopfloor.api.app import create_app
from shopfloor.models.plant import load_plant
from shopfloor.simulators.history import plant_history
from shopfloor.store.annotations import AnnotationStore
from shopfloor.store.duckdb_store import DuckDBStore
from tests.api.conftest import ALICE, REQUEST_TIMEOUT_S, config

S = 1_000_000_000


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[schemathesis.BaseSchema]:
    plant = load_plant()
    path: Path = tmp_path_factory.mktemp("schema")
    store = DuckDBStore(path / "shopfloor.duckdb", plant.plant.id)
    now = time.time_ns()
    for batch in plant_history(plant, now - 3600 * S, now).batches:
        store.write(batch)
    store.flush()
    notes = AnnotationStore(path / "annotations.sqlite3")
    app = create_app(plant, store, annotations=notes, config=config())
    found = schemathesis.openapi.from_asgi("/openapi.json", app)
    found.config.update(request_timeout=REQUEST_TIMEOUT_S)
    yield found
    notes.close()
    store.close()


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_causes_a_server_error(case: schemathesis.Case) -> None:
    case.call_and_validate(headers=ALICE, checks=[not_a_server_error])


def test_every_operation_documents_its_response_body(tmp_path: Path) -> None:
    """Every success response names its model (JSON) or says it is text (CSV, metrics): no bare "object"."""
    plant = load_plant()
    store = DuckDBStore(tmp_path / "shopfloor.duckdb", plant.plant.id)
    notes = AnnotationStore(tmp_path / "annotations.sqlite3")
    try:
        document = create_app(plant, store, annotations=notes, config=config()).openapi()
    finally:
        notes.close()
        store.close()
    undocumented = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            success = next(r for code, r in operation["responses"].items() if code.startswith("2"))
            for media, content in success["content"].items():
                schema = content.get("schema", {})
                if media == "application/json":
                    named = "$ref" in schema or "$ref" in schema.get("items", {}) or "discriminator" in schema
                else:
                    named = schema.get("type") == "string"
                if not named:
                    undocumented.append(f"{method.upper()} {path} ({media})")
    assert undocumented == []
