"""Losing the server and getting it back: restart, dropped sockets, stall, refused nodes, polling."""

from __future__ import annotations

import datetime as dt
import logging
import socket
from pathlib import Path

import pytest

from shopfloor.collectors.opcua import OpcUaFleetCollector
from shopfloor.models.states import Quality
from tests.collectors.opcua.conftest import (
    RecordingSink,
    all_keys,
    at_endpoint,
    fleet_variant,
    no_value_unless_good,
    running,
    wait_until,
)
from tests.collectors.opcua.fleet_server import FleetServer, expected_value


def collector_for(server: FleetServer, sink: RecordingSink, **options) -> OpcUaFleetCollector:
    return OpcUaFleetCollector(
        at_endpoint(server.fleet, server.url),
        sink,
        reconnect_initial_s=0.1,
        reconnect_max_s=1.0,
        retry_interval_s=0.3,
        **options,
    )


def connectivity(sink: RecordingSink) -> list[bool]:
    return [e.connected for e in sink.events]


def nothing_written_while_down(sink: RecordingSink) -> bool:
    """Between a 'lost' and the next 'connected' event the log holds no sample batch."""
    down = False
    for kind, item, _ in sink.log:
        if kind == "conn":
            down = not item.connected
        elif down:
            return False
    return True


async def test_server_restart_is_a_gap_then_values_flow_and_unknown_nodes_are_retried(
    server: FleetServer, sink: RecordingSink
) -> None:
    collector = collector_for(server, sink)
    fleet = collector.fleet
    async with running(collector):
        await wait_until(lambda: sink.good_keys() == all_keys(fleet), "every variable before the restart")
        await server.stop()
        await wait_until(lambda: connectivity(sink) == [True, False], "the loss to be recorded")
        assert not collector.ready.is_set()
        mark = len(sink.log)
        # The server comes back without robot r002 for a moment (its nodes unknown).
        await server.start(without=("r002",))
        await wait_until(lambda: connectivity(sink) == [True, False, True], "the reconnection")
        others = {k for k in all_keys(fleet) if k[0] != "r002"}
        await wait_until(lambda: others <= sink.good_keys(mark), "values of the other robots after the restart")

        def refused() -> dict[tuple[str, str], tuple[int, str]]:
            return {(r, f): (q, d) for _, r, f, _, q, d in sink.rows(mark) if r == "r002"}

        # Refused items are written once the whole batch is answered; values may arrive before that.
        await wait_until(lambda: set(refused()) == {k for k in all_keys(fleet) if k[0] == "r002"}, "r002 refused")
        assert all(q == Quality.BAD_STATUS and "BadNodeIdUnknown" in d for q, d in refused().values())
        await server.add_robot("r002")
        await wait_until(lambda: all_keys(fleet) <= sink.good_keys(mark), "r002 once its nodes exist")
        assert collector.stats.pending_items == 0
        await server.set_value("r002", "soc_pct", 55.0, dt.datetime.now(dt.UTC))
        await wait_until(lambda: sink.latest(mark)[("r002", "soc_pct")][1] == 55.0, "a change on a retried node")
    assert collector.stats.reconnects == 1
    assert nothing_written_while_down(sink)
    assert no_value_unless_good(sink)
    lost = sink.events[1]
    assert lost.equipment == fleet.id and lost.source == f"opcua:{fleet.id}" and lost.detail


async def test_a_server_stopped_mid_subscription_is_one_log_line(
    server: FleetServer, sink: RecordingSink, caplog: pytest.LogCaptureFixture
) -> None:
    # No reconnect before the test stops the collector: the log then holds what the loss itself caused.
    collector = OpcUaFleetCollector(
        at_endpoint(server.fleet, server.url), sink, reconnect_initial_s=3600, reconnect_max_s=3600
    )
    fleet = collector.fleet
    async with running(collector):
        await wait_until(lambda: sink.good_keys() == all_keys(fleet), "every variable")
        caplog.clear()
        caplog.set_level(logging.INFO)
        await server.stop()  # closes every socket, the one asyncua's publish loop waits on included
        await wait_until(lambda: connectivity(sink) == [True, False], "the loss to be recorded")
    assert sink.events[1].detail == "connection closed"
    warnings = [(r.name, r.levelno, r.getMessage()) for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [
        ("shopfloor.collectors.opcua", logging.WARNING, f"opcua:{fleet.id}: lost link to {fleet.id}: connection closed")
    ]
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []
    assert "Traceback" not in caplog.text and "Publish iteration crashed" not in caplog.text


async def test_dropped_connections_reconnect_and_resubscribe(server: FleetServer, sink: RecordingSink) -> None:
    collector = collector_for(server, sink)
    fleet = collector.fleet
    async with running(collector):
        await wait_until(lambda: sink.good_keys() == all_keys(fleet), "every variable")

        async def drop_and_resubscribe(round_: int) -> None:
            assert server.drop_connections() >= 1
            await wait_until(lambda: connectivity(sink).count(False) == round_, f"loss {round_}")
            await wait_until(lambda: connectivity(sink) == [True] + [False, True] * round_, f"reconnect {round_}")
            mark = len(sink.log)
            await server.set_value("r003", "position_x_m", 10.0 + round_, dt.datetime.now(dt.UTC))
            await wait_until(
                lambda: sink.latest(mark).get(("r003", "position_x_m"), (0, None))[1] == 10.0 + round_,
                f"a fresh value after reconnect {round_}",
            )

        for round_ in (1, 2):
            await drop_and_resubscribe(round_)
    assert collector.stats.reconnects == 2
    assert nothing_written_while_down(sink)


async def test_a_stalled_server_is_detected_and_left_for_a_new_session(
    server: FleetServer, sink: RecordingSink
) -> None:
    collector = collector_for(server, sink)
    fleet = collector.fleet
    async with running(collector):
        await wait_until(lambda: sink.good_keys() == all_keys(fleet), "every variable")
        assert server.stall() >= 1  # the socket stays open; nothing is answered
        await wait_until(lambda: connectivity(sink) == [True, False], "the stall to count as a loss")
        # New connections are served again (the stalled ones stay stalled).
        await wait_until(lambda: connectivity(sink) == [True, False, True], "a new session")
        mark = len(sink.log)
        await server.set_value("r001", "error_code", 205, dt.datetime.now(dt.UTC))
        await wait_until(
            lambda: sink.latest(mark).get(("r001", "error_code"), (0, None))[1] == 205.0, "values on the new session"
        )
    assert collector.stats.reconnects == 1
    assert nothing_written_while_down(sink)


async def test_polling_delivers_when_subscriptions_are_unavailable(server: FleetServer, sink: RecordingSink) -> None:
    collector = collector_for(server, sink, force_polling=True)
    fleet = collector.fleet
    async with running(collector):
        await wait_until(lambda: sink.good_keys() == all_keys(fleet), "every variable by polling")
        assert collector.mode == "polling"
        assert collector.stats.publishes == 0 and collector.stats.polls >= 1
        mark = len(sink.log)
        await server.set_value("r002", "soc_pct", 77.0, dt.datetime.now(dt.UTC))
        await wait_until(lambda: sink.latest(mark).get(("r002", "soc_pct"), (0, None))[1] == 77.0, "a change")
        polls = collector.stats.polls
        # A poll cycle is one batch for the whole fleet.
        await wait_until(lambda: collector.stats.polls >= polls + 2, "two more polls")
        # Losing the server while polling is a loss too, and polling resumes after it.
        await server.restart(without=("r003",))
        await wait_until(lambda: connectivity(sink) == [True, False, True], "reconnection while polling")
        mark = len(sink.log)
        await wait_until(lambda: any(r == "r003" for _, r, *_ in sink.rows(mark)), "a poll after the restart")
        r003 = {q for _, r, _, _, q, _ in sink.rows(mark) if r == "r003"}
        assert r003 == {Quality.BAD_STATUS}
        await server.add_robot("r003")
        await wait_until(lambda: all_keys(fleet) <= sink.good_keys(mark), "r003 read once it exists")
    full_polls = [b for b in sink.batches if len(b) == len(all_keys(fleet))]
    assert len(full_polls) >= 3
    assert sink.latest()[("r001", "state")][1] == expected_value(fleet, 0, "state")
    assert no_value_unless_good(sink)


async def test_unreachable_endpoint_is_recorded_once_and_retried(tmp_path: Path, sink: RecordingSink) -> None:
    fleet = fleet_variant(2)
    server = FleetServer(fleet, tmp_path)
    with socket.socket() as probe:  # a free port nobody listens on: connections are refused
        probe.bind(("127.0.0.1", 0))
        server.port = probe.getsockname()[1]
    port_url = server.url
    collector = OpcUaFleetCollector(at_endpoint(fleet, port_url), sink, reconnect_initial_s=0.05, reconnect_max_s=0.2)
    async with running(collector):
        await wait_until(lambda: collector.stats.attempts >= 4, "several attempts")
        assert connectivity(sink) == [False]  # one event, however many attempts
        assert "refused" in sink.events[0].detail
        await server.start()
        await wait_until(lambda: sink.good_keys() == all_keys(collector.fleet), "values once the server is up")
    await server.stop()
    assert connectivity(sink) == [False, True]
