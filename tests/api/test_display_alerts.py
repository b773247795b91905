"""The display's andon banner in a real headless Chromium: an alert shows within 1 s, in both languages, and goes.

As in test_display.py, the page stamps (MutationObserver, Date.now()) the moment
the alert's line appears, and the test compares it with the moment it called
the hub's write(). Sound is off by default and a toggle turns it on.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from shopfloor.api.live import LiveHub
from shopfloor.models.plant import Plant, load_plant
from shopfloor.models.states import RobotState
from tests.api.conftest import Env, LiveServer
from tests.api.test_alerts import robot_state
from tests.api.test_display import PUSH_LIMIT_S, page  # noqa: F401  # the page fixture (Chromium on the live app)

ARTIFACT = Path(__file__).resolve().parents[1] / "artifacts" / "display-alerts.png"
WATCH_ALERT = """(testId) => {
  window.__alertShownAt = null;
  const observer = new MutationObserver(() => {
    if (window.__alertShownAt === null && document.querySelector(`[data-testid="${testId}"]`)) {
      window.__alertShownAt = Date.now();
      observer.disconnect();
    }
  });
  observer.observe(document.getElementById("alerts-list"), {childList: true, subtree: true});
}"""


@pytest.fixture(scope="module")
def plant() -> Plant:
    """The shipped plant with its robot-fault rule only: no other rule (a stale link, a stopped line, a low
    charge in the generated history) can hold the banner, so the test knows every alert that is active."""
    base = load_plant()
    rules = [r for r in base.alerts.rules if r.id == "robot-fault"]
    assert len(rules) == 1
    return base.model_copy(update={"alerts": base.alerts.model_copy(update={"rules": rules})})


def test_an_alert_shows_on_the_display_within_1_s_and_leaves_when_cleared(
    page: tuple[Any, LiveServer, LiveHub],  # noqa: F811  # the fixture imported above
    env: Env,
) -> None:
    pg, server, hub = page
    from playwright.sync_api import expect

    pg.goto(f"{server.url}/?lang=en")
    expect(pg.get_by_test_id("live-indicator")).to_have_attribute("data-connected", "true")
    # As test_display.py does: the page has settled (the first KPI snapshot, computed cold, is in) before timing.
    expect(pg.get_by_test_id("team-gravure-rank")).to_have_text(re.compile(r"^[1-5]$"))
    banner = pg.get_by_test_id("alert-banner")
    assert server.services.alerts is not None
    # Robots the history left in fault are put back to idle (each line seen on the page, then seen to go): then
    # no alert is active and the banner is hidden.
    for robot in [a.equipment for a in server.services.alerts.active]:
        expect(pg.get_by_test_id(f"alert-robot-fault-{robot}")).to_have_count(1)
        hub.write(robot_state(robot, RobotState.IDLE))
        expect(pg.get_by_test_id(f"alert-robot-fault-{robot}")).to_have_count(0)
    expect(banner).to_be_hidden()
    assert server.services.alerts.active == []
    target = env.plant.fleets[0].robots[0].id
    line = pg.get_by_test_id(f"alert-robot-fault-{target}")
    expect(line).to_have_count(0)

    pg.evaluate(WATCH_ALERT, f"alert-robot-fault-{target}")
    written = time.time()
    hub.write(robot_state(target, RobotState.FAULT))
    expect(line).to_contain_text(f"{target} in fault")
    shown_ms = pg.evaluate("window.__alertShownAt")
    assert shown_ms is not None
    assert shown_ms / 1000 - written < PUSH_LIMIT_S, f"shown {shown_ms / 1000 - written:.3f} s after the write"
    expect(banner).to_be_visible()
    expect(line).to_have_attribute("data-severity", "critical")

    sound = pg.get_by_test_id("alerts-sound")
    expect(sound).to_have_text("Sound off")
    sound.click()
    expect(sound).to_have_attribute("aria-pressed", "true")
    expect(sound).to_have_text("Sound on")

    pg.get_by_test_id("lang-toggle").click()
    expect(line).to_contain_text(f"{target} 故障")
    expect(sound).to_have_text("声音开")
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACT))  # for a person to look at

    hub.write(robot_state(target, RobotState.IDLE))
    expect(line).to_have_count(0)
    expect(banner).to_be_hidden()  # it was the only alert active
    assert server.services.alerts.active == []
