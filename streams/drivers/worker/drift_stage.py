"""`elava drift-stage serve`: attributed changes in, drift out (elava.drift and its OCSF copies).

Drift is a function of a change and its attribution (streams/analyzers/drift.py), so it need
not be judged on the worker's path: the worker publishes every attributed change (and each
later one CloudTrail brought) and this stage reads them in its own consumer group
(``analyzer.drift.app_id``), derives the drift of each modification and publishes it,
delivered before the offsets are committed (streams/drivers/worker/committing_stage.py). A
crash redelivers what was not committed and a redelivered change gives the same drift under
the same id. Under ``analyzer.drift.attribution: false`` an attribution published again
(the worker marks it, ``REATTRIBUTED``) reports nothing: the drift was reported once, without
its actor.

Run it inside `elava worker` (a supervised child, the default) or apart to scale it: every
stage of one group shares the partitions of the attributed changes.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka import TopicPartition

from elava import telemetry
from elava.analyzer_events import DriftEvent
from elava.events import REATTRIBUTED, AttributedChange, cloudevent_headers
from elava.exceptions import SchemaError
from elava.heap import settle_heap
from elava.settings import Settings
from streams.analyzers.drift import DriftAnalyzer
from streams.drivers.worker.committing_stage import CommittingStage
from streams.siem.sink import ocsf_copies

log = logging.getLogger("elava.drift")
SOURCE = "elava/drift"
# Only a modification can drift. The worker writes its JSON compactly (orjson, pydantic), so a
# change without these bytes is not one and is not parsed; one that has them is parsed and judged.
MODIFIED = b'"kind":"modified"'


def may_drift(value: bytes) -> bool:
    """False only for what cannot be a modification as the worker writes it (or any readable JSON
    of one: a writer that puts spaces around the colon is parsed and judged too)."""
    return MODIFIED in value or (b'"kind"' in value and b'"modified"' in value)


class DriftStage(CommittingStage):
    batch_records = 2000
    source = SOURCE

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, settings.analyzer.drift.app_id, log)
        self.analyzer = DriftAnalyzer(settings.analyzer.drift)
        self.once = not settings.analyzer.drift.attribution

    async def handle(self, batch: dict[TopicPartition, list[Any]]) -> None:
        """Judge one poll's changes, publish their drift, and wait until it is delivered."""
        for records in batch.values():
            for record in records:
                await self._judge(record)
        await asyncio.gather(*await self.sends.flush())  # a failed delivery raises: nothing is committed

    async def _judge(self, record: Any) -> None:
        value = record.value or b""
        if not may_drift(value) or (self.once and REATTRIBUTED in (record.headers or ())):
            return
        try:
            attributed = AttributedChange.from_bytes(value)
        except SchemaError as exc:
            await self._dead_letter(record, str(exc))
            return
        with telemetry.consumed("elava.drift.judge", record):
            drift = self.analyzer.drift_for(attributed.change, attributed)
            if drift is not None:
                await self._publish(drift)

    async def _publish(self, drift: DriftEvent) -> None:
        await self.sends.add_keyed(self.topics.drift, drift.uid.encode(), drift.to_bytes(),
                                   cloudevent_headers(drift, SOURCE))
        for message in ocsf_copies(drift, SOURCE, {}):  # the SIEM's view (docs/siem.md)
            await self.sends.add_keyed(self.topics.ocsf, message.key, message.value, message.headers)


async def serve(settings: Settings, ready_fd: int | None = None, with_parent: bool = False) -> None:
    """Run the stage until SIGINT/SIGTERM (streams/drivers/worker/policy_stage.py, run_until_stopped)."""
    from streams.drivers.worker.policy_stage import run_until_stopped

    settle_heap()
    await run_until_stopped(DriftStage(settings).run, "drift stage", ready_fd, with_parent)
