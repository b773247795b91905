"""Reading every variable on a cadence, for servers that cannot subscribe.

Each cycle sends one Read request per ``subscribe_batch_size`` variables and
writes one SampleBatch for the whole cycle. A node the server does not know
comes back with a bad status in its DataValue, so it is recorded as
BAD_STATUS and simply read again next cycle: polling needs no retry list.
"""

from __future__ import annotations

from collections.abc import Sequence

from asyncua import Client, ua

from shopfloor.collectors.opcua.decode import bad_samples, decode_values
from shopfloor.collectors.opcua.plan import FleetPlan, batches
from shopfloor.collectors.opcua.stats import CollectorStats
from shopfloor.models.plant import OpcUaEndpoint
from shopfloor.models.samples import SampleBatch, SampleSink
from shopfloor.models.states import Quality
from shopfloor.models.timebase import Clock


class FleetPoller:
    def __init__(
        self,
        client: Client,
        plan: FleetPlan,
        endpoint: OpcUaEndpoint,
        sink: SampleSink,
        stats: CollectorStats,
        clock: Clock,
    ) -> None:
        self._client = client
        self._plan = plan
        self._endpoint = endpoint
        self._sink = sink
        self._stats = stats
        self._clock = clock

    async def poll_once(self, node_ids: Sequence[ua.NodeId | str]) -> int:
        """Read everything once and write it as one batch; transport errors propagate (link lost)."""
        readable = [i for i, node in enumerate(node_ids) if not isinstance(node, str)]
        unresolved = [i for i, node in enumerate(node_ids) if isinstance(node, str)]
        parts: list[SampleBatch] = []
        for chunk in batches(readable, self._endpoint.subscribe_batch_size):
            params = ua.ReadParameters(
                MaxAge=0,  # the current value, not a server cache
                TimestampsToReturn=ua.TimestampsToReturn.Both,
                NodesToRead=[ua.ReadValueId(NodeId=node_ids[i], AttributeId=ua.AttributeIds.Value) for i in chunk],
            )
            values = await self._client.uaclient.read(params)
            parts.append(decode_values(self._plan, chunk, values, self._clock.now_ns()))
        if unresolved:
            details = [str(node_ids[i]) for i in unresolved]
            parts.append(bad_samples(self._plan, unresolved, Quality.BAD_STATUS, details, self._clock.now_ns()))
        if not parts:
            return 0
        batch = SampleBatch.concat(parts)
        self._stats.polls += 1
        self._stats.notifications += len(readable)
        self._stats.samples += len(batch)
        self._sink.write(batch)
        return len(batch)
