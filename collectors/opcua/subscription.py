"""One data-change subscription covering every variable of a fleet, on one session.

Monitored items are created ``subscribe_batch_size`` at a time (a single
CreateMonitoredItems request for 1,000+ items can exceed a server's message
or operation limits and fail as a whole). Items the server refuses are
written as BAD_STATUS and retried on a cadence; a refused item never stops
the others.

Publish responses arrive through asyncua's raw subscription callback, so one
PublishResult — however many items it carries — becomes one SampleBatch.
Every publish response, keep-alives included, feeds the stall watchdog.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from asyncua import Client, ua

from shopfloor.collectors.opcua.decode import bad_samples, decode_values, status_name
from shopfloor.collectors.opcua.plan import FleetPlan, Timing, batches, timing
from shopfloor.collectors.opcua.stats import CollectorStats
from shopfloor.models.plant import OpcUaEndpoint
from shopfloor.models.samples import SampleSink
from shopfloor.models.states import Quality
from shopfloor.models.timebase import Clock

log = logging.getLogger("shopfloor.collectors.opcua")


class SubscriptionUnavailable(Exception):
    """The server cannot create a subscription at all (the collector may fall back to polling)."""


def handle_of(index: int) -> int:
    """Client handle of plan item ``index`` (0 is reserved by some servers for "none")."""
    return index + 1


def _monitored_item_request(
    index: int, node_id: ua.NodeId, endpoint: OpcUaEndpoint, numeric: bool, timing_: Timing
) -> ua.MonitoredItemCreateRequest:
    params = ua.MonitoringParameters()
    params.ClientHandle = handle_of(index)
    params.SamplingInterval = timing_.sampling_interval_ms
    params.QueueSize = timing_.queue_size
    params.DiscardOldest = True
    if endpoint.deadband_abs is not None and numeric:
        # Servers reject a deadband on non-numeric variables (BadFilterNotAllowed).
        params.Filter = ua.DataChangeFilter(
            Trigger=ua.DataChangeTrigger.StatusValue,
            DeadbandType=ua.DeadbandType.Absolute,
            DeadbandValue=endpoint.deadband_abs,
        )
    request = ua.MonitoredItemCreateRequest()
    request.ItemToMonitor = ua.ReadValueId(NodeId=node_id, AttributeId=ua.AttributeIds.Value)
    request.MonitoringMode = ua.MonitoringMode.Reporting
    request.RequestedParameters = params
    return request


class FleetSubscription:
    """The subscription of one session. Build with :meth:`create`, then :meth:`add_items`."""

    def __init__(
        self,
        client: Client,
        plan: FleetPlan,
        endpoint: OpcUaEndpoint,
        sink: SampleSink,
        stats: CollectorStats,
        clock: Clock,
        on_lost: Callable[[str], None],
    ) -> None:
        self._client = client
        self._plan = plan
        self._endpoint = endpoint
        self._sink = sink
        self._stats = stats
        self._clock = clock
        self._on_lost = on_lost
        self.timing = timing(endpoint)
        self.subscription_id: int | None = None
        self.last_publish_monotonic = clock.monotonic()
        self.pending: dict[int, str] = {}  # plan index -> why it is not monitored yet
        self.monitored: set[int] = set()

    async def create(self) -> None:
        """CreateSubscription; raises :class:`SubscriptionUnavailable` if the server refuses the service."""
        params = ua.CreateSubscriptionParameters(
            RequestedPublishingInterval=self.timing.publishing_interval_ms,
            RequestedLifetimeCount=self.timing.lifetime_count,
            RequestedMaxKeepAliveCount=self.timing.keepalive_count,
            MaxNotificationsPerPublish=0,  # no limit: a publish carries every change of the interval
            PublishingEnabled=True,
            Priority=0,
        )
        try:
            result = await self._client.uaclient.create_subscription(params, self._on_publish)
        except ua.UaStatusCodeError as exc:
            raise SubscriptionUnavailable(f"CreateSubscription failed: {status_name(exc.code)}") from None
        self.subscription_id = result.SubscriptionId
        # The watchdog must follow what the server will do, not what we asked for.
        self.timing = timing(self._endpoint, result.RevisedPublishingInterval, result.RevisedMaxKeepAliveCount)
        self.last_publish_monotonic = self._clock.monotonic()

    async def add_items(self, node_ids: Sequence[ua.NodeId | str], indices: Sequence[int]) -> int:
        """Create monitored items for plan ``indices`` in batches; returns how many the server accepted.

        ``node_ids`` is indexed by plan index; a text there means the node id
        could not be resolved, which counts as refused. Refused items are
        written as BAD_STATUS once per attempt and kept in :attr:`pending`.
        """
        assert self.subscription_id is not None
        refused: list[tuple[int, str]] = []
        accepted = 0
        resolvable: dict[int, ua.NodeId] = {}
        for i in indices:
            node = node_ids[i]
            if isinstance(node, str):
                refused.append((i, node))
            else:
                resolvable[i] = node
        for chunk in batches(list(resolvable), self._endpoint.subscribe_batch_size):
            requests = [
                _monitored_item_request(
                    i,
                    resolvable[i],
                    self._endpoint,
                    self._plan.items[i].numeric,
                    self.timing,
                )
                for i in chunk
            ]
            params = ua.CreateMonitoredItemsParameters(
                SubscriptionId=self.subscription_id,
                TimestampsToReturn=ua.TimestampsToReturn.Both,
                ItemsToCreate=requests,
            )
            self._stats.create_item_requests += 1
            try:
                results = await self._client.uaclient.create_monitored_items(params)
            except ua.UaStatusCodeError as exc:
                # The whole request refused (e.g. BadTooManyOperations): retry these later.
                refused += [(i, f"CreateMonitoredItems: {status_name(exc.code)}") for i in chunk]
                continue
            # one result per item requested, unless the server misbehaves: not enforced here
            for i, result in zip(chunk, results, strict=False):
                if result.StatusCode.is_good():
                    accepted += 1
                    self.monitored.add(i)
                    self.pending.pop(i, None)
                else:
                    refused.append((i, f"monitored item refused: {status_name(result.StatusCode.value)}"))
        if refused:
            for i, why in refused:
                self.pending[i] = why
            self._write_bad([i for i, _ in refused], [why for _, why in refused])
        self._stats.monitored_items = len(self.monitored)
        self._stats.pending_items = len(self.pending)
        return accepted

    def _write_bad(self, indices: list[int], details: list[str]) -> None:
        batch = bad_samples(self._plan, indices, Quality.BAD_STATUS, details, self._clock.now_ns())
        self._stats.samples += len(batch)
        self._sink.write(batch)

    def _on_publish(self, result: ua.PublishResult) -> None:
        """Called by asyncua's publish loop for every response, keep-alives included."""
        receive_ns = self._clock.now_ns()
        self.last_publish_monotonic = self._clock.monotonic()
        self._stats.publishes += 1
        data = result.NotificationMessage.NotificationData
        if not data:
            return  # keep-alive
        indices: list[int] = []
        values: list[ua.DataValue] = []
        n_items = len(self._plan)
        for notification in data:
            if isinstance(notification, ua.DataChangeNotification):
                for item in notification.MonitoredItems:
                    index = item.ClientHandle - 1
                    if 0 <= index < n_items:
                        indices.append(index)
                        values.append(item.Value)
            elif isinstance(notification, ua.StatusChangeNotification):
                status = notification.Status
                if not status.is_good():
                    # Sent by the server when the subscription dies, and by asyncua when the link does.
                    self._on_lost(f"subscription status {status_name(status.value)}")
        if not indices:
            return
        batch = decode_values(self._plan, indices, values, receive_ns)
        self._stats.notifications += len(indices)
        self._stats.samples += len(batch)
        self._sink.write(batch)  # the collector's GuardedSink: never raises into asyncua's publish loop

    def silent_for_s(self) -> float:
        return self._clock.monotonic() - self.last_publish_monotonic
