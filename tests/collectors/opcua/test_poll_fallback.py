"""A server that refuses CreateSubscription: polling with ``poll_fallback``, a down link without it.

The refusal is the real server's ServiceFault (see FleetServer.refuse_subscriptions), so the
collector sees exactly what it would from a server at its subscription limit or one that does
not implement the subscription service set.
"""

from __future__ import annotations

import datetime as dt
import logging
import math

import pytest

from shopfloor.collectors.opcua import OpcUaFleetCollector
from shopfloor.models.states import Quality
from tests.collectors.opcua.conftest import (
    RecordingSink,
    all_keys,
    at_endpoint,
    no_value_unless_good,
    running,
    wait_until,
)
from tests.collectors.opcua.fleet_server import FleetServer

REFUSALS = ["BadTooManySubscriptions", "BadServiceUnsupported"]


def collector_for(server: FleetServer, sink: RecordingSink, **opcua: object) -> OpcUaFleetCollector:
    return OpcUaFleetCollector(
        at_endpoint(server.fleet, server.url, **opcua),
        sink,
        reconnect_initial_s=0.1,
        reconnect_max_s=1.0,
        retry_interval_s=0.3,
    )


def connectivity(sink: RecordingSink) -> list[bool]:
    return [e.connected for e in sink.events]


@pytest.mark.parametrize("refusal", REFUSALS)
async def test_refused_subscription_falls_back_to_polling(
    server: FleetServer, sink: RecordingSink, refusal: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="shopfloor.collectors.opcua")
    server.refuse_subscriptions(refusal)
    collector = collector_for(server, sink)
    assert collector.endpoint.poll_fallback  # the default
    fleet = collector.fleet
    async with running(collector) as task:
        await wait_until(lambda: sink.good_keys() == all_keys(fleet), "every variable by polling")
        assert collector.mode == "polling"
        assert collector.stats.publishes == 0 and collector.stats.monitored_items == 0
        # A bad status on the server is a quality, never a value.
        mark = len(sink.log)
        await server.set_value("r002", "soc_pct", 42.0, dt.datetime.now(dt.UTC), status="BadSensorFailure")
        await wait_until(
            lambda: sink.latest(mark).get(("r002", "soc_pct"), (0, 0.0, Quality.GOOD, ""))[2] == Quality.BAD_STATUS,
            "the bad status to be polled",
        )
        _, value, _, detail = sink.latest(mark)[("r002", "soc_pct")]
        assert math.isnan(value) and detail == "BadSensorFailure"
        # The other variables of the same poll stay good.
        assert sink.latest(mark)[("r002", "state")][2] == Quality.GOOD
        # And the variable recovers on the next good value.
        mark = len(sink.log)
        await server.set_value("r002", "soc_pct", 43.0, dt.datetime.now(dt.UTC))
        await wait_until(
            lambda: sink.latest(mark).get(("r002", "soc_pct"), (0, 0.0, 0, ""))[1:3] == (43.0, Quality.GOOD),
            "a good value after the bad status",
        )
        assert not task.done()
    assert connectivity(sink) == [True]
    assert sink.events[0].detail.startswith("polling")
    assert no_value_unless_good(sink)
    fallback = [r.getMessage() for r in caplog.records if "falling back to polling" in r.getMessage()]
    assert len(fallback) == 1 and refusal in fallback[0]


@pytest.mark.parametrize("refusal", REFUSALS)
async def test_refused_subscription_without_poll_fallback_is_a_down_link_retried(
    server: FleetServer, sink: RecordingSink, refusal: str
) -> None:
    server.refuse_subscriptions(refusal)
    collector = collector_for(server, sink, poll_fallback=False)
    fleet = collector.fleet
    async with running(collector) as task:
        await wait_until(lambda: collector.stats.attempts >= 3, "three attempts")
        assert not task.done()  # no crash
        assert connectivity(sink) == [False]  # one event, however many attempts
        detail = sink.events[0].detail
        assert refusal in detail and "CreateSubscription" in detail and "poll_fallback is off" in detail
        assert collector.stats.last_error == detail
        assert sink.batches == [] and collector.stats.polls == 0
        assert not collector.ready.is_set() and collector.mode == "idle"
        # Once the server accepts subscriptions again, the same collector subscribes.
        server.refuse_subscriptions(None)
        await wait_until(lambda: sink.good_keys() == all_keys(fleet), "values once subscriptions work")
        assert collector.mode == "subscription" and collector.stats.polls == 0
    assert connectivity(sink) == [False, True]
    assert no_value_unless_good(sink)
