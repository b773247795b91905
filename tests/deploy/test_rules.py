"""deploy/prometheus/alerts.yml: valid for promtool, and each rule fires on the series meant to fire it.

A real Prometheus loading the file and scraping a running app is tests/api/test_prometheus.py.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.fixtures.prometheus import RULES, binary_or_skip

UNIT_TESTS = Path(__file__).with_name("alerts_test.yml")


def test_promtool_checks_the_shipped_rules() -> None:
    done = subprocess.run(
        [binary_or_skip("promtool"), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 5 rules found" in done.stdout


def test_each_shipped_rule_fires_on_its_series_and_not_before_its_for() -> None:
    done = subprocess.run(
        [binary_or_skip("promtool"), "test", "rules", str(UNIT_TESTS)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
