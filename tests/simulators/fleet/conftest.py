"""Fixtures of the fleet simulator tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopfloor.simulators.fleet.certs import generate_certificate


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A trusted client certificate, an untrusted one, and their keys."""
    d = tmp_path_factory.mktemp("fleet-certs")
    paths = {
        "client_cert": d / "client_cert.der",
        "client_key": d / "client_key.pem",
        "rogue_cert": d / "rogue_cert.pem",
        "rogue_key": d / "rogue_key.pem",
    }
    generate_certificate(paths["client_cert"], paths["client_key"], "collector", "urn:test:collector")
    generate_certificate(paths["rogue_cert"], paths["rogue_key"], "rogue", "urn:test:rogue")
    return paths
