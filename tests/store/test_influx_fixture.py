"""The real-InfluxDB fixture skips where the binaries are missing, and fails instead when CI requires it."""

from __future__ import annotations

import pytest

from bench import _influx
from tests.fixtures import influx


def test_missing_binaries_skip_with_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv(influx.REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="influxd and nginx not installed"):
        influx.start_or_skip()


def test_missing_binaries_fail_when_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setenv(influx.REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="SHOPFLOOR_REQUIRE_INFLUX=1"):
        influx.start_or_skip()


def test_config_rewrite_touches_only_the_named_section() -> None:
    base = (
        'bind-address = "127.0.0.1:8088"\n[meta]\n  dir = "/var/lib/x"\n[http]\n  bind-address = ":8086"\n'
        '[[graphite]]\n  bind-address = ":2003"\n'
    )
    out = _influx._rewrite_toml(
        base,
        {
            ("", "bind-address"): '"127.0.0.1:1"',
            ("http", "bind-address"): '"127.0.0.1:2"',
            ("meta", "dir"): '"/tmp/m"',
            ("http", "log-enabled"): "false",
        },
    )
    assert out == (
        'bind-address = "127.0.0.1:1"\n[meta]\n  dir = "/tmp/m"\n[http]\n  bind-address = "127.0.0.1:2"\n'
        '  log-enabled = false\n[[graphite]]\n  bind-address = ":2003"\n'
    )
