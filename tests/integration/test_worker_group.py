"""Three `elava worker` processes in one group: any of them answers for every resource
(it asks the others for their partitions and merges), the CLI asks them with --api, and
when one is SIGKILLed the others take its partitions (standby replicas) and the answers
stay complete and the same; then every query command gives through --api what it gives
from a local store that saw the same account."""

from __future__ import annotations

import asyncio
import json
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

import pytest
from typer.testing import CliRunner

from collectors.service import run_collector
from elava.catalogue import registry
from elava.cli.main import app
from elava.demo.simulated import ACCOUNT, SimulatedAccount, free_port
from elava.events import utcnow
from elava.kafka.clients import ensure_topics
from elava.processes.worker_process import WorkerProcess, wait_until_processed
from elava.settings import Settings, load_settings
from streams.drivers.embedded.scan import embedded_scan
from streams.drivers.worker.cluster import PARTITIONS_HEADER
from tests.integration.web import http_get, wait_for_web

pytestmark = pytest.mark.integration
TOKEN = f"group-token-{uuid.uuid4().hex}"
PARTITIONS, WORKERS = 6, 3
TYPES = ["ec2.security-group", "s3.bucket"]


def plant(account: SimulatedAccount) -> tuple[list[str], list[str]]:
    """Security groups and buckets enough to fall into most partitions; their ids."""
    ec2, s3 = account.client("ec2"), account.client("s3")
    groups = [ec2.create_security_group(GroupName=f"group-{n}", Description="x")["GroupId"] for n in range(24)]
    for n in range(0, 24, 3):
        ec2.create_tags(Resources=[groups[n]], Tags=[{"Key": "owner", "Value": "alice"}])
    buckets = [f"bucket-{uuid.uuid4().hex[:8]}-{n}" for n in range(8)]
    for bucket in buckets:
        s3.create_bucket(Bucket=bucket)
    every_group = [g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]]  # with the default one
    return every_group, buckets


def worker_settings(base: dict, tmp_path, n: int) -> Settings:
    return load_settings(None, **base, worker__web_port=free_port(), worker__data_dir=str(tmp_path / f"worker-{n}"))


async def ask(port: int, path: str, params: dict | None = None) -> tuple[int, object]:
    query = f"?{urlencode(params)}" if params else ""
    return await asyncio.to_thread(http_get, port, f"{path}{query}", TOKEN)


async def until_group_of(port: int, workers: int, timeout: float = 180.0) -> dict:
    """The worker's view once ``workers`` workers hold every partition and nobody rebalances."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        status, cluster = await ask(port, "/v1/cluster")
        holders = {url: held for url, held in cluster.get("workers", {}).items() if held} if status == 200 else {}
        covered = sorted(p for held in holders.values() for p in held)
        if len(holders) == workers and covered == list(range(PARTITIONS)) and cluster["settled"]:
            return cluster
        if loop.time() > deadline:
            raise TimeoutError(f"worker on {port} never saw {workers} workers holding every partition: {cluster}")
        await asyncio.sleep(0.5)


def queries(groups: list[str]) -> list[tuple[str, dict]]:
    some = groups[:4]
    return [("/v1/inventory", {}), ("/v1/inventory", {"tag": "owner=alice"}), ("/v1/inventory", {"limit": "7"}),
            ("/v1/changes", {"since": "1d"}), ("/v1/diff", {"since": "1d", "type": "s3.bucket"}),
            *[("/v1/history", {"uid": group}) for group in some], ("/v1/who", {"uid": some[0]}),
            ("/v1/resource", {"uid": some[1]}), ("/v1/history", {"uid": "sg-nowhere"})]


async def answers(port: int, asked: list[tuple[str, dict]], since_fixed: str) -> list:
    found = []
    for path, params in asked:
        params = {**params, "since": since_fixed} if "since" in params else params
        found.append(await ask(port, path, params))
    return found


def cli(*args: str, storage: Path | None = None) -> list:
    env = {"ELAVA_WORKER__API_TOKEN": TOKEN, "COLUMNS": "200"}
    if storage is not None:  # the local store instead of the workers
        env["ELAVA_STORAGE__PATH"] = str(storage)
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


async def test_any_worker_answers_for_the_group_even_after_one_is_killed(kafka_bootstrap, account, tmp_path):
    groups, buckets = plant(account)
    run = f"group-{uuid.uuid4().hex[:6]}"
    base = dict(kafka__bootstrap_servers=kafka_bootstrap, kafka__topic_prefix=run, kafka__partitions=PARTITIONS,
                kafka__shard_buckets=8, worker__app_id=run, worker__api_token=TOKEN, worker__standby_replicas=1,
                worker__session_timeout="6s", policies__enabled=False,
                providers__aws__endpoint_url=account.endpoint_url)
    settings = [worker_settings(base, tmp_path, n) for n in range(WORKERS)]
    ports = [s.worker.web_port for s in settings]
    await ensure_topics(settings[0].kafka)
    workers = [WorkerProcess(s, tmp_path / f"worker-{n}.log") for n, s in enumerate(settings)]
    try:
        for worker in workers:
            worker.start()
        for worker, port in zip(workers, ports, strict=True):
            await wait_for_web(worker, port)
        # The group forms before the data comes, as a StatefulSet's workers start together: a
        # worker that joins while partitions with data move between the others can stall in
        # Faust's recovery ("No event received for active tp", faust-streaming 0.15.3).
        await until_group_of(ports[0], WORKERS)
        assert await run_collector(settings[0], type_names=TYPES) is False
        await wait_until_processed(settings[0], timeout=180)
        cluster = await until_group_of(ports[0], WORKERS)
        since = "2000-01-01T00:00:00+00:00"
        asked = queries(groups)

        first = await answers(ports[0], asked, since)
        for port in ports[1:]:  # through every worker, the same answers
            await until_group_of(port, WORKERS)
            assert await answers(port, asked, since) == first
        assert_complete(first, groups, buckets)
        await assert_spread(cluster)
        cli_history = await asyncio.to_thread(
            cli, "history", groups[2], "--api", f"http://127.0.0.1:{ports[1]}", "-o", "json")
        assert cli_history == first[asked.index(("/v1/history", {"uid": groups[2]}))][1]

        workers[2].kill()  # a crash: the two others take its partitions
        for port in ports[:2]:
            await until_group_of(port, WORKERS - 1)
            assert await answers(port, asked, since) == first

        # The same story in a local store (elava scan): every query command answers the same
        # through --api as from that store, but for times.
        local = load_settings(None, storage__path=str(tmp_path / "local"), kafka__shard_buckets=8,
                              policies__enabled=False, providers__aws__endpoint_url=account.endpoint_url)
        await embedded_scan(local, type_names=TYPES)
        account.client("ec2").authorize_security_group_ingress(GroupId=groups[0], IpPermissions=SSH)
        assert await run_collector(settings[0], type_names=TYPES) is False
        await wait_until_processed(settings[0], timeout=180)
        await embedded_scan(local, type_names=TYPES)
        await until_group_of(ports[0], WORKERS - 1)
        await asyncio.to_thread(assert_every_command_the_same, ports[0], local, groups, vpc_of(account))
    finally:
        for worker in workers:
            worker.stop()


SSH = [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
EVER = "2000-01-01T00:00:00+00:00"


def vpc_of(account: SimulatedAccount) -> str:
    """The default VPC's ARN: not collected here, used by every group (in every partition)."""
    (vpc,) = account.client("ec2").describe_vpcs()["Vpcs"]
    return registry.get("ec2.vpc").uid_for(vpc["VpcId"], account=ACCOUNT, region="us-east-1", partition="aws")


def commands(groups: list[str], vpc: str) -> dict[tuple[str, ...], Callable[[list], object]]:
    """Each query command, and what of its JSON lines does not depend on when it was stored."""
    now = utcnow().isoformat()
    return {
        ("at", now): lambda rows: sorted(r["uid"] for r in rows),
        ("changes", "--since", EVER): lambda rows: sorted((r["uid"], r["version"], r["kind"]) for r in rows),
        ("diff", EVER): lambda rows: sorted((r["uid"], r["change"]) for r in rows),
        ("history", groups[0]): lambda rows: [(r["version"], r["kind"], (r["drift"] or {}).get("severity"))
                                              for r in rows],
        ("who", groups[0]): lambda rows: [(r["version"], r["kind"], r["attributed"]) for r in rows],
        ("related", vpc): lambda rows: [(r["observed"], sorted((u["uid"], u["relation"]) for u in r["used_by"]))
                                        for r in rows],
        ("drift", "--since", EVER): lambda rows: [(r["uid"], r["severity"], r["rules"]) for r in rows],
        ("patterns", "--since", EVER): lambda rows: [(r["pattern"], r["uid"]) for r in rows],
        ("waste",): lambda rows: sorted((r["uid"], r["pattern"]) for r in rows),
    }


def assert_every_command_the_same(port: int, local: Settings, groups: list[str], vpc: str) -> None:
    api = ("--api", f"http://127.0.0.1:{port}")
    for command, kept in commands(groups, vpc).items():
        remote = kept(cli(*command, *api, "-o", "json"))
        assert remote == kept(cli(*command, "-o", "json", storage=local.storage.path)), command
    (drifted,) = cli("drift", "--since", EVER, *api, "-o", "json")
    assert drifted["uid"].endswith(f"security-group/{groups[0]}")  # SSH opened to the world
    (related,) = cli("related", vpc, *api, "-o", "json")
    assert len(related["used_by"]) == len(groups)  # every group, from every partition


def assert_complete(found: list, groups: list[str], buckets: list[str]) -> None:
    (status, inventory), (_, owned), (_, first_seven) = found[:3]
    assert status == 200
    assert sorted((r["type"], r["id"]) for r in inventory) == sorted(
        [("ec2.security-group", g) for g in groups] + [("s3.bucket", b) for b in buckets])
    assert [r["uid"] for r in first_seven] == sorted(r["uid"] for r in inventory)[:7]
    assert len(owned) == 8 and {r["tags"]["owner"] for r in owned} == {"alice"}
    status, changes = found[3]
    assert status == 200 and len(changes) == len(inventory) and {c["kind"] for c in changes} == {"created"}
    assert [c["valid_from"] for c in changes] == sorted(c["valid_from"] for c in changes)
    for status, history in found[5:9]:
        assert status == 200 and [(v["version"], v["kind"]) for v in history] == [(1, "created")]
    assert found[-1][0] == 404 and "no resource 'sg-nowhere'" in found[-1][1]["error"]


async def assert_spread(cluster: dict) -> None:
    """The resources are held by more than one worker: the answers above were merged."""
    holding = 0
    for url, held in cluster["workers"].items():
        envelope = await asyncio.to_thread(part_of, url, held)
        assert envelope["partitions"] == held and envelope["status"] == 200
        holding += bool(envelope["body"])
    assert holding >= 2, "every resource fell into one worker's partitions: nothing was merged"


def part_of(url: str, held: list[int]) -> dict:
    """What one worker answers for its own partitions (as the workers ask each other)."""
    headers = {"Authorization": f"Bearer {TOKEN}", PARTITIONS_HEADER: ",".join(map(str, held))}
    with urllib.request.urlopen(urllib.request.Request(f"{url}/v1/inventory", headers=headers), timeout=10) as answer:
        return json.loads(answer.read())
