"""The executor on a real broker against a moto server: requests in, results out.

Requests are made as the policy stage makes them (the test policies evaluated on the
resource, signed with the test key); forged ones are made by hand.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys

import orjson
import pytest

from streams.drivers.executor.results import read_results
from tests.integration.executing import (
    AwsCallRecorder,
    ResultReader,
    executor_settings,
    process_env,
    publish_requests,
    running_executor,
    wait_until_consumed,
)
from tests.unit.streams.executor.fixtures import WebhookReceiver, unattached, wanted

pytestmark = [pytest.mark.integration, pytest.mark.slow]
PROTECT = "elava:protect"
AMI = "ami-12c6146b"


def instance(ec2, tags: dict[str, str] | None = None) -> str:
    spec = [{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}] if tags else []
    answer = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="t3.micro", TagSpecifications=spec)
    return answer["Instances"][0]["InstanceId"]


def volume(ec2) -> str:
    return ec2.create_volume(AvailabilityZone="us-east-1a", Size=8)["VolumeId"]


def rid_of(request) -> str:
    return request.uid.rsplit("/", 1)[1]


def instance_state(ec2, rid: str) -> str:
    return ec2.describe_instances(InstanceIds=[rid])["Reservations"][0]["Instances"][0]["State"]["Name"]


def tags_of(ec2, rid: str) -> dict[str, str]:
    found = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [rid]}])["Tags"]
    return {t["Key"]: t["Value"] for t in found}


def volume_ids(ec2) -> set[str]:
    return {v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]}


def want(ec2, what: str, **tags: str):
    """An instance tagged want=<what> and the request its policy makes for it."""
    return wanted(what, instance(ec2, {"want": what, **tags}), **tags)


def scene(ec2) -> dict:
    """One request of every kind, on fresh resources."""
    return {
        "tag": want(ec2, "tag"),
        "stop": want(ec2, "stop"),
        "delete": unattached(volume(ec2)),
        "monitor": want(ec2, "watch"),
        "notify": want(ec2, "notice"),
        "protected": want(ec2, "tag", **{PROTECT: "yes"}),
        "unknown": want(ec2, "delete"),
    }


def result_keys(requests: dict, names: tuple[str, ...], status: str) -> set[str]:
    return {f"{requests[n].event_id}:{status}" for n in names}


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
    assert tags_of(ec2, rid_of(requests["tag"])) == {"want": "tag"}
    assert instance_state(ec2, rid_of(requests["stop"])) == "running"
    assert rid_of(requests["delete"]) in volume_ids(ec2)
    # The notice and both announcements went out, marked as dry runs where they announce.
    assert {requests[n].event_id for n in ("notify", "stop", "delete")} <= set(hook.keys)
    assert all(n["dry_run"] for n in hook.notices if n["kind"] == "announcement")


async def test_enforce_announces_waits_rechecks_then_executes(kafka_bootstrap, account, tmp_path):
    ec2 = account.client("ec2")
    requests = scene(ec2)
    fixed = {"attached": unattached(volume(ec2)), "keep": unattached(volume(ec2)),
             "owner": want(ec2, "stop"), "protect": want(ec2, "stop")}
    everything = list(requests.values()) + list(fixed.values())
    with WebhookReceiver() as hook, AwsCallRecorder(tmp_path / "aws-calls.jsonl") as calls:
        settings = executor_settings(kafka_bootstrap, account.endpoint_url, hook.url, grace_period="5s",
                                     dry_run=False)
        async with running_executor(settings), ResultReader(settings) as reader:
            await publish_requests(settings, everything)
            await _until_scheduled(reader, list(fixed.values()))
            # During the grace period (5 s: time for the test to see the announcements and act)
            # each resource is fixed in one way: its action must be cancelled.
            ec2.attach_volume(VolumeId=rid_of(fixed["attached"]), InstanceId=rid_of(requests["monitor"]),
                              Device="/dev/sdf")
            ec2.create_tags(Resources=[rid_of(fixed["keep"])], Tags=[{"Key": "keep", "Value": "yes"}])
            ec2.create_tags(Resources=[rid_of(fixed["owner"])], Tags=[{"Key": "owner", "Value": "bob"}])
            ec2.create_tags(Resources=[rid_of(fixed["protect"])], Tags=[{"Key": PROTECT, "Value": "yes"}])
            final = await reader.until_final(everything)

    status = {name: final[req.event_id].status for name, req in (requests | fixed).items()}
    assert status == {"tag": "executed", "stop": "executed", "delete": "executed", "monitor": "monitored",
                      "notify": "notified", "protected": "skipped", "unknown": "failed", "attached": "cancelled",
                      "keep": "cancelled", "owner": "cancelled", "protect": "cancelled"}
    detail = {name: final[req.event_id].detail for name, req in fixed.items()}
    assert "protected by tag" in detail["protect"]
    assert all("no longer asks" in detail[name] for name in ("attached", "keep", "owner"))
    scheduled = next(r for r in reader.results if r.request_id == requests["stop"].event_id)
    assert scheduled.status == "scheduled" and scheduled.not_before is not None
    ours = {("CreateTags", rid_of(fixed[name])): 1 for name in ("keep", "owner", "protect")}  # the test's fixes
    assert calls.mutations() == ours | {("CreateTags", rid_of(requests["tag"])): 1,
                                        ("StopInstances", rid_of(requests["stop"])): 1,
                                        ("DeleteVolume", rid_of(requests["delete"])): 1}
    assert tags_of(ec2, rid_of(requests["protected"])) == {"want": "tag", PROTECT: "yes"}
    announced = ("stop", "delete")
    assert {requests[n].event_id for n in ("notify", *announced)} | {f.event_id for f in fixed.values()} <= set(hook.keys)
    assert result_keys(requests, ("tag", *announced), "executed") | result_keys(requests, ("unknown",), "failed") \
        <= set(hook.keys)
    assert {f"{f.event_id}:cancelled" for f in fixed.values()} <= set(hook.keys)
    assert all(count == 1 for count in hook.keys.values())


async def test_forged_requests_change_nothing_and_a_genuine_one_runs_once(kafka_bootstrap, account, tmp_path):
    ec2 = account.client("ec2")
    genuine = want(ec2, "tag")
    victims = [want(ec2, "stop") for _ in range(4)]
    unknown_policy = victims[0].model_copy(update={"policy": "does_not_exist"}).model_dump(exclude={"event_id"})
    harmless_claim = victims[1].model_dump(exclude={"event_id"}) | {"destructive": False}
    forged = [type(genuine)(**unknown_policy), type(genuine)(**harmless_claim)]
    with WebhookReceiver() as hook, AwsCallRecorder(tmp_path / "aws-calls.jsonl") as calls:
        settings = executor_settings(kafka_bootstrap, account.endpoint_url, hook.url, grace_period="1s",
                                     dry_run=False)
        async with running_executor(settings), ResultReader(settings) as reader:
            await publish_requests(settings, forged)  # signed by a key holder, but false claims
            await publish_requests(settings, [victims[2]], signed=False)
            await publish_requests(settings, [victims[3]], headers=[("elava_key_id", b"k1"),
                                                                     ("elava_signature", b"hmac-sha256=" + b"0" * 64)])
            await publish_requests(settings, [genuine, genuine])
            final = await reader.until_final([*forged, victims[2], victims[3], genuine])
            await wait_until_consumed(settings)

    refused = [final[r.event_id] for r in (*forged, victims[2], victims[3])]
    assert [r.status for r in refused] == ["rejected"] * 4
    assert [r.detail.split(":")[0] for r in refused[2:]] == ["unsigned request (no signature header)",
                                                             "bad signature for key 'k1'"]
    assert "unknown policy" in refused[0].detail and "destructive=False" in refused[1].detail
    assert final[genuine.event_id].status == "executed" and reader.statuses(genuine) == ["executed"]
    assert calls.mutations() == {("CreateTags", rid_of(genuine)): 1}  # nothing else was asked of AWS
    assert all(instance_state(ec2, rid_of(v)) == "running" for v in victims)
    assert not any(v.event_id in key for v in victims for key in hook.keys)  # not even announced


async def test_the_audit_trail_reads_back(kafka_bootstrap, account):
    ec2 = account.client("ec2")
    req = want(ec2, "tag")
    settings = executor_settings(kafka_bootstrap, account.endpoint_url, None, dry_run=False)
    async with running_executor(settings), ResultReader(settings) as reader:
        await publish_requests(settings, [req])
        await reader.until_final([req])

    [result] = await read_results(settings, uid=rid_of(req))
    assert (result.status, result.signed_by, result.decision_id, result.change_id) == (
        "executed", "k1", req.decision_id, req.change_id)
    assert result.principal and result.aws_calls[-1].operation == "ec2:create_tags"
    shown = subprocess.run([sys.executable, "-m", "elava", "actions", "--uid", rid_of(req), "--since", "1h",
                            "-o", "json"], env=process_env(settings), capture_output=True, text=True, check=True)
    [line] = shown.stdout.splitlines()
    assert orjson.loads(line)["aws_calls"] == [call.model_dump() for call in result.aws_calls]
    assert await read_results(settings, uid="i-0000000000000000f") == []


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
    assert calls.mutations() == {("CreateTags", rid_of(requests["tag"])): 1,
                                 ("StopInstances", rid_of(requests["stop"])): 1,
                                 ("DeleteVolume", rid_of(requests["delete"])): 1}
    assert all(count == 1 for count in hook.keys.values())
    assert {requests[n].event_id for n in ("notify", "stop", "delete")} <= set(hook.keys)


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
        rid = {name: rid_of(req) for name, req in requests.items()}
        expected |= {("CreateTags", rid["tag"]): 1, ("StopInstances", rid["stop"]): 1,
                     ("DeleteVolume", rid["delete"]): 1}
        assert {name: final[req.event_id].status for name, req in requests.items()} == {
            "tag": "executed", "stop": "executed", "delete": "executed", "monitor": "monitored",
            "notify": "notified", "protected": "skipped", "unknown": "failed"}
    assert calls.mutations() == expected
    assert all(count == 1 for count in hook.keys.values())


async def _until_owning(service, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not service.owned:
        if loop.time() > deadline:
            raise TimeoutError("the second executor got no partitions")
        await asyncio.sleep(0.05)
