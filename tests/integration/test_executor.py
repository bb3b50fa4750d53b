"""The executor on a real broker against a moto server: requests in, results out."""

from __future__ import annotations

import asyncio

import pytest

from tests.integration.executing import (
    AwsCallRecorder,
    ResultReader,
    WebhookReceiver,
    executor_settings,
    publish_requests,
    running_executor,
    wait_until_consumed,
)
from tests.unit.streams.executor.fixtures import request

pytestmark = [pytest.mark.integration, pytest.mark.slow]
PROTECT = "elava:protect"
AMI = "ami-12c6146b"


def instance(ec2, tags: dict[str, str] | None = None) -> str:
    spec = [{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}] if tags else []
    answer = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="t3.micro", TagSpecifications=spec)
    return answer["Instances"][0]["InstanceId"]


def volume(ec2) -> str:
    return ec2.create_volume(AvailabilityZone="us-east-1a", Size=8)["VolumeId"]


def instance_state(ec2, rid: str) -> str:
    return ec2.describe_instances(InstanceIds=[rid])["Reservations"][0]["Instances"][0]["State"]["Name"]


def tags_of(ec2, rid: str) -> dict[str, str]:
    found = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [rid]}])["Tags"]
    return {t["Key"]: t["Value"] for t in found}


def volume_ids(ec2) -> set[str]:
    return {v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]}


def scene(ec2) -> dict:
    """One request of every kind, on fresh resources."""
    to_tag, to_stop, watched, noticed, guarded = (instance(ec2) for _ in range(5))
    protected = instance(ec2, {PROTECT: "yes"})
    unattached = volume(ec2)
    return {
        "tag": request("tag", rid=to_tag, tags={"owner": "alice"}),
        "stop": request("stop", rid=to_stop),
        "delete": request("delete", type_name="ec2.volume", rid=unattached),
        "monitor": request("stop", "monitor", rid=watched),
        "notify": request("tag", "notify", rid=noticed),
        "protected": request("tag", rid=protected, tags={"owner": "mallory"}),
        "unknown": request("delete", type_name="ec2.instance", rid=guarded),
    }


async def test_dry_run_by_default_changes_nothing(kafka_bootstrap, account):
    ec2 = account.client("ec2")
    requests = scene(ec2)
    with WebhookReceiver() as hook:
        settings = executor_settings(kafka_bootstrap, account.endpoint_url, hook.url, grace_period="1s")
        assert settings.executor.dry_run
        async with running_executor(settings), ResultReader(settings) as reader:
            await publish_requests(settings, list(requests.values()))
            final = await reader.until_final(list(requests.values()))

    status = {name: final[req.event_id].status for name, req in requests.items()}
    assert status == {"tag": "dry_run", "stop": "dry_run", "delete": "dry_run", "monitor": "monitored",
                      "notify": "notified", "protected": "skipped", "unknown": "failed"}
    assert reader.statuses(requests["delete"]) == ["scheduled", "dry_run"]
    assert "would tag ec2.instance" in final[requests["tag"].event_id].detail
    assert all(result.dry_run for result in final.values())
    # Nothing changed in AWS.
    assert tags_of(ec2, requests["tag"].uid.rsplit("/", 1)[1]) == {}
    assert instance_state(ec2, requests["stop"].uid.rsplit("/", 1)[1]) == "running"
    assert requests["delete"].uid.rsplit("/", 1)[1] in volume_ids(ec2)
    # The notice and both announcements went out, marked as dry runs where they announce.
    assert set(hook.keys) == {requests[n].event_id for n in ("notify", "stop", "delete")}
    assert all(n["dry_run"] for n in hook.notices if n["kind"] == "announcement")


async def test_enforce_announces_waits_rechecks_then_executes(kafka_bootstrap, account):
    ec2 = account.client("ec2")
    requests = scene(ec2)
    reattached = volume(ec2)
    requests["attached"] = request("delete", type_name="ec2.volume", rid=reattached)
    with WebhookReceiver() as hook:
        settings = executor_settings(kafka_bootstrap, account.endpoint_url, hook.url, grace_period="3s",
                                     dry_run=False)
        async with running_executor(settings), ResultReader(settings) as reader:
            await publish_requests(settings, list(requests.values()))
            await _until_scheduled(reader, [requests["delete"], requests["attached"]])
            # Someone attaches the volume during the grace period (3 s: time for the test to see
            # the announcement and act): its deletion must be cancelled.
            ec2.attach_volume(VolumeId=reattached, InstanceId=requests["monitor"].uid.rsplit("/", 1)[1],
                              Device="/dev/sdf")
            final = await reader.until_final(list(requests.values()))

    status = {name: final[req.event_id].status for name, req in requests.items()}
    assert status == {"tag": "executed", "stop": "executed", "delete": "executed", "monitor": "monitored",
                      "notify": "notified", "protected": "skipped", "unknown": "failed", "attached": "cancelled"}
    assert "attached to" in final[requests["attached"].event_id].detail
    scheduled = next(r for r in reader.results if r.request_id == requests["stop"].event_id)
    assert scheduled.status == "scheduled" and scheduled.not_before is not None
    assert tags_of(ec2, requests["tag"].uid.rsplit("/", 1)[1]) == {"owner": "alice"}
    assert instance_state(ec2, requests["stop"].uid.rsplit("/", 1)[1]) in ("stopping", "stopped")
    assert requests["delete"].uid.rsplit("/", 1)[1] not in volume_ids(ec2)
    assert reattached in volume_ids(ec2)
    assert tags_of(ec2, requests["protected"].uid.rsplit("/", 1)[1]) == {PROTECT: "yes"}
    assert set(hook.keys) == {requests[n].event_id for n in ("notify", "stop", "delete", "attached")}


async def _until_scheduled(reader: ResultReader, requests: list, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not all("scheduled" in reader.statuses(r) for r in requests):
        if loop.time() > deadline:
            raise TimeoutError("the destructive requests were not scheduled")
        await reader.poll()


async def test_redelivered_requests_are_carried_out_once(kafka_bootstrap, account, tmp_path):
    ec2 = account.client("ec2")
    requests = scene(ec2)
    with WebhookReceiver() as hook, AwsCallRecorder(tmp_path / "aws-calls.jsonl") as calls:
        settings = executor_settings(kafka_bootstrap, account.endpoint_url, hook.url, grace_period="1s",
                                     dry_run=False)
        async with running_executor(settings), ResultReader(settings) as reader:
            # Each request arrives twice before it is done, and once more after.
            await publish_requests(settings, list(requests.values()) * 2)
            await reader.until_final(list(requests.values()))
            await publish_requests(settings, list(requests.values()))
            await wait_until_consumed(settings)
            await reader.poll()

    for name, req in requests.items():
        expected = ["scheduled", "executed"] if name in ("stop", "delete") else [reader.final()[req.event_id].status]
        assert reader.statuses(req) == expected, name
    rid = {name: req.uid.rsplit("/", 1)[1] for name, req in requests.items()}
    assert calls.mutations() == {("CreateTags", rid["tag"]): 1, ("StopInstances", rid["stop"]): 1,
                                 ("DeleteVolume", rid["delete"]): 1}
    assert hook.keys == {requests[n].event_id: 1 for n in ("notify", "stop", "delete")}


async def test_two_executors_share_the_partitions_and_still_act_once(kafka_bootstrap, account, tmp_path):
    ec2 = account.client("ec2")
    first, second = scene(ec2), scene(ec2)
    everything = list(first.values()) + list(second.values())
    with WebhookReceiver() as hook, AwsCallRecorder(tmp_path / "aws-calls.jsonl") as calls:
        settings = executor_settings(kafka_bootstrap, account.endpoint_url, hook.url, grace_period="1s",
                                     dry_run=False)
        async with running_executor(settings), ResultReader(settings) as reader:
            await publish_requests(settings, list(first.values()))
            async with running_executor(settings) as joined:  # the partitions are shared out again
                await _until_owning(joined)
                await publish_requests(settings, list(second.values()) + list(first.values()))
                await reader.until_final(list(second.values()))
            # The second one left: the first takes its partitions (and their scheduled actions) back.
            await publish_requests(settings, everything)
            final = await reader.until_final(everything)
            await wait_until_consumed(settings)

    expected = {}
    for requests in (first, second):
        rid = {name: req.uid.rsplit("/", 1)[1] for name, req in requests.items()}
        expected |= {("CreateTags", rid["tag"]): 1, ("StopInstances", rid["stop"]): 1,
                     ("DeleteVolume", rid["delete"]): 1}
        assert {name: final[req.event_id].status for name, req in requests.items()} == {
            "tag": "executed", "stop": "executed", "delete": "executed", "monitor": "monitored",
            "notify": "notified", "protected": "skipped", "unknown": "failed"}
    assert calls.mutations() == expected
    assert all(count == 1 for count in hook.keys.values()) and len(hook.keys) == 6


async def _until_owning(service, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not service.owned:
        if loop.time() > deadline:
            raise TimeoutError("the second executor got no partitions")
        await asyncio.sleep(0.05)
