"""An executor SIGKILLed while actions flow still carries out every action once.

`elava executor` runs as a child process in enforce mode with a 1 s grace period.
Requests arrive in waves; shortly after each of the first waves (a seeded random
moment, while requests are being worked on or scheduled actions fall due) the
process is SIGKILLed and started again. At the end every request has a final
result, and the receiving ends count the effects: moto's request recorder counts
the mutating AWS calls per resource (exactly one each), the webhook receiver counts
notices per idempotency key (every action noticed; a repeat only where a kill fell
between sending a notice and recording it, and then under the same key).
"""

from __future__ import annotations

import asyncio
import random

import pytest

from elava.kafka.clients import ensure_topics
from tests.integration.executing import (
    AwsCallRecorder,
    ExecutorProcess,
    LedgerWatcher,
    ResultReader,
    executor_settings,
    publish_requests,
    wait_until_consumed,
)
from tests.integration.test_executor import volume, want
from tests.unit.streams.executor.fixtures import WebhookReceiver, unattached

pytestmark = [pytest.mark.integration, pytest.mark.slow]
WAVES, KILLS = 4, 3
STARTED_WITHIN_S = 20.0
EXPECTED_CALL = {"tag": "CreateTags", "stop": "StopInstances", "delete": "DeleteVolume"}


def wave(ec2, number: int) -> list:
    """Ten requests: four tags, two stops, two volume deletions, two notices."""
    tags = [want(ec2, "tag") for _ in range(4)]
    stops = [want(ec2, "stop") for _ in range(2)]
    deletes = [unattached(volume(ec2)) for _ in range(2)]
    notices = [want(ec2, "notice") for _ in range(2)]
    return tags + stops + deletes + notices


async def until_active(reader: ResultReader, finished_before: int, published: list, process: ExecutorProcess) -> None:
    """Until the (re)started executor finished something new, or everything published so far."""
    while len(reader.final()) <= finished_before and len(reader.final()) < len(published):
        process.check_alive()
        await reader.poll()


async def run_with_kills(settings, waves: list[list], reader: ResultReader, process: ExecutorProcess,
                         rng: random.Random) -> int:
    published, kills = [], 0
    async with LedgerWatcher(settings) as ledger:
        for number, requests in enumerate(waves):
            process.start()
            await until_active(reader, len(reader.final()), published, process)
            await publish_requests(settings, requests)
            published += requests
            if number < KILLS:
                # Strike right after the n-th write-ahead record of this wave (a seeded n): the
                # step it announces is in flight; or, failing that, at a seeded random moment.
                # A restarted executor on a busy CI machine took more than 3 s to write its n-th
                # record once, and no kill then fell inside a step (resumed == 0 below).
                if not await ledger.after_started(rng.randint(1, 8), timeout=STARTED_WITHIN_S):
                    await asyncio.sleep(rng.uniform(0.05, 1.0))
                if process.running:
                    process.kill()
                    kills += 1
    await reader.until_final(published, timeout=40, check=process.check_alive)
    await wait_until_consumed(settings, process=process)
    return kills


async def test_sigkilled_executor_performs_every_action_once(kafka_bootstrap, account, tmp_path):
    ec2 = account.client("ec2")
    waves = [wave(ec2, n) for n in range(WAVES)]
    requests = [r for w in waves for r in w]
    # A slow receiver keeps notices in flight: a kill right after a write-ahead record lands mid-step.
    with WebhookReceiver(answer_after=0.2) as hook, AwsCallRecorder(tmp_path / "aws-calls.jsonl") as calls:
        settings = executor_settings(kafka_bootstrap, account.endpoint_url, hook.url, grace_period="1s",
                                     dry_run=False)
        await ensure_topics(settings.kafka)
        process = ExecutorProcess(settings, tmp_path / "executor.log")
        try:
            async with ResultReader(settings) as reader:
                kills = await run_with_kills(settings, waves, reader, process, random.Random(20261128))
        finally:
            process.stop()

    assert kills == KILLS
    final = reader.final()
    for req in requests:
        wanted = "notified" if req.mode == "notify" else "executed"
        assert final[req.event_id].status == wanted, (req.action, final[req.event_id].detail)

    mutations = calls.mutations()
    expected = {(EXPECTED_CALL[r.action], r.uid.rsplit("/", 1)[1]): 1 for r in requests if r.mode == "enforce"}
    assert mutations == expected

    noticed = {r.event_id for r in requests if r.mode == "notify" or r.destructive}
    noticed |= {f"{r.event_id}:executed" for r in requests if r.mode == "enforce"}
    assert set(hook.keys) == noticed
    repeats = sum(hook.keys.values()) - len(hook.keys)
    assert repeats <= kills
    resumed = (tmp_path / "executor.log").read_text().count("was interrupted at")
    # The kills strike right after write-ahead records: the restarted executor must have
    # resumed at least one step a crash left started (else this test proved nothing of it).
    assert resumed >= 1
    print(f"\n{len(requests)} actions, {kills} kills, {sum(mutations.values())} AWS mutations for "
          f"{len(expected)} enforce actions, {sum(hook.keys.values())} notices for {len(noticed)} keys "
          f"({repeats} repeated under the same key), {resumed} interrupted steps resumed")
