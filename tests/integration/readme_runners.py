"""What each README command must do, and the shell that runs them (tests/integration/test_readme.py).

``RUNS`` maps each command the README shows to the function that runs it in a ``Shell``
(a user's folder, a fresh home, the session's broker and the simulated account) and
checks what it must show.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

from elava.demo.simulated import ACCOUNT
from elava.events import Observation, Resource, cloudevent_headers, utcnow
from elava.kafka.clients import new_admin, new_consumer, new_producer
from elava.settings import load_settings
from elava.sharding import shard_of
from elava.topics import Topics
from streams.dlq import dead_letter, via_producer

EXAMPLE_GROUP = "sg-0abc"


class Shell:
    """A user's folder (the README's elava.yaml, the shipped policies) and a fresh home."""

    def __init__(self, folder: Path, env: dict[str, str], planted: dict[str, str], account) -> None:
        self.folder, self.env, self.planted, self.background = folder, env, planted, []
        self.account = account

    @property
    def group(self) -> str:
        return self.planted["group"]

    @property
    def instance(self) -> str:
        return self.planted["instance"]

    @property
    def web_port(self) -> int:
        return int(self.env["ELAVA_WORKER__WEB_PORT"])

    def kafka_settings(self):
        """The sample's kafka settings, with this run's broker and prefix (as the commands see them)."""
        return load_settings(self.folder / "elava.yaml",
                             kafka__bootstrap_servers=self.env["ELAVA_KAFKA__BOOTSTRAP_SERVERS"],
                             kafka__topic_prefix=self.env["ELAVA_KAFKA__TOPIC_PREFIX"]).kafka

    def service(self, command: str) -> Service:
        return next(service for service in self.background if service.command == command)

    def argv(self, command: str) -> list[str]:
        words = shlex.split(command.removesuffix("&").replace(EXAMPLE_GROUP, self.group))
        assert words[0] == "elava", command
        return [sys.executable, "-m", "elava", *words[1:]]

    def run(self, command: str, code: int = 0, columns: int | None = None) -> subprocess.CompletedProcess:
        """``columns``: a terminal that wide (a table with many columns keeps its cells whole)."""
        env = self.env if columns is None else {**self.env, "COLUMNS": str(columns)}
        done = subprocess.run(self.argv(command), cwd=self.folder, env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == code, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        assert "Traceback" not in done.stderr, done.stderr
        return done

    def start(self, command: str) -> Service:
        log = self.folder / f"{len(self.background)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(self.argv(command), cwd=self.folder, env=self.env, stdout=out,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        self.background.append(Service(command, process, log))
        return self.background[-1]

    def stop_all(self) -> None:
        for service in reversed(self.background):
            service.stop()


class Service:
    def __init__(self, command: str, process: subprocess.Popen, log: Path) -> None:
        self.command, self.process, self.log = command, process, log

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, ready, what: str, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            assert self.process.poll() is None, f"{self.command} exited: {self.output()[-3000:]}"
            assert time.monotonic() < deadline, f"{self.command}: no {what} in {timeout:.0f}s: {self.output()[-3000:]}"
            time.sleep(0.5)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def get_json(port: int, path: str):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return json.loads(response.read())
    except OSError:
        return None


# --- what each README command must do -------------------------------------------

def demo(shell: Shell, command: str) -> None:
    out = shell.run(command).stdout
    assert "5 scans, 12 changes, 3 drift events (1 out-of-band), 2 patterns" in out, out[-4000:]
    assert "1 waste finding" in out, out[-4000:]


def topics_create(shell: Shell, command: str) -> None:
    observations = f"{shell.env['ELAVA_KAFKA__TOPIC_PREFIX']}.observations"
    assert f"created  {observations}" in shell.run(command).stdout
    assert f"exists   {observations}" in shell.run(command).stdout  # "safe to run twice"


def worker(shell: Shell, command: str) -> None:
    service = shell.start(command)
    service.wait_for(lambda: get_json(shell.web_port, "/v1/inventory") is not None, "query API")
    assert (Path(shell.env["XDG_DATA_HOME"]) / "elava" / "worker").is_dir()  # made by the worker itself


def policy_serve(shell: Shell, command: str) -> None:
    """Beside the worker's own stage (the sample keeps policies.stage_in_worker on): a second
    member of the stages' group, which then shares the attributed changes with the first."""
    service = shell.start(command)
    group = shell.env["ELAVA_POLICIES__APP_ID"]
    service.wait_for(lambda: asyncio.run(stable_members(shell.kafka_settings(), group)) == 2,
                     f"two stages in group {group}")


async def stable_members(kafka, group: str) -> int:
    """How many members consumer ``group`` has once it is stable (0 while it rebalances)."""
    admin = new_admin(kafka)
    await admin.start()
    try:
        (response,) = await admin.describe_consumer_groups([group])
        (described,) = response.to_object()["groups"]
        return len(described["members"]) if described["state"] == "Stable" else 0
    finally:
        await admin.close()


def collect(shell: Shell, command: str) -> None:
    service = shell.start(command)
    suffix = f"security-group/{shell.group}"

    def stored() -> bool:
        rows = get_json(shell.web_port, "/v1/inventory?type=ec2.security-group") or []
        return any(row["uid"].endswith(suffix) for row in rows)

    service.wait_for(stored, "security group in the worker's store")


def executor(shell: Shell, command: str) -> None:
    service = shell.start(command)
    service.wait_for(lambda: "DRY-RUN" in service.output(), "dry-run announcement")
    # SSH open to the world: the shipped policy asks for a notification; the executor answers.
    result = asyncio.run(first_record(shell.kafka_settings(), "action_results", shell.group))
    assert result["dry_run"] is True and result["policy"] == "open_admin_ports", result


async def first_record(kafka, topic: str, mentioning: str, timeout: float = 180.0) -> dict:
    consumer = new_consumer(kafka, getattr(Topics(kafka), topic), auto_offset_reset="earliest")
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    if mentioning.encode() in record.value:
                        return json.loads(record.value)
        raise AssertionError(f"nothing on {topic} about {mentioning} in {timeout:.0f}s")
    finally:
        await consumer.stop()


def actions(shell: Shell, command: str) -> None:
    done = shell.run(command, columns=250)  # after `elava executor &`: its dry-run notification
    (row,) = [line for line in done.stdout.splitlines() if shell.group in line]
    assert "open_admin_ports" in row and "dry-run" in row, done.stdout


def collect_serve(shell: Shell, command: str) -> None:
    service = shell.start(command)
    service.wait_for(lambda: "scan-request partitions" in service.output(), "partition assignment")
    shell.run("elava schedule --once")  # one request per tier of the sample, for the caller's account
    service.wait_for(lambda: ACCOUNT in service.output(), "a scan of the requested account")
    service.stop()


def scan_one_region(shell: Shell, command: str) -> None:
    done = shell.run(command)
    assert "eu-west-1" in done.stdout and shell.group not in done.stdout  # the group lives in us-east-1


def scan_risk_only(shell: Shell, command: str) -> None:
    done = shell.run(command)
    assert shell.group in done.stdout and shell.instance not in done.stdout  # the instance has an owner


def scan_tiers(shell: Shell, command: str) -> None:
    done = shell.run(command)
    assert shell.instance in done.stdout and shell.group not in done.stdout  # only env=prod or critical


def scan_ocsf(shell: Shell, command: str) -> None:
    # Someone opens RDP to the world on the group: drift, and a finding of the shipped policies.
    shell.account.client("ec2").authorize_security_group_ingress(GroupId=shell.group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    findings = [json.loads(line) for line in shell.run(command).stdout.splitlines()]
    about_group = [(f["class_name"], json.dumps(f)) for f in findings if shell.group in json.dumps(f)]
    assert any(name == "Detection Finding" and "3389" in text for name, text in about_group)  # the drift
    assert any(name == "Compliance Finding" and "open_admin_ports" in text for name, text in about_group), findings


def history(shell: Shell, command: str) -> None:
    done = shell.run(command)
    assert "v1" in done.stdout and "created" in done.stdout and "tags: none" in done.stdout


def inventory_then(shell: Shell, command: str) -> None:
    assert "0 resources as of" in shell.run(command).stdout  # the store began today


def changes(shell: Shell, command: str) -> None:
    done = shell.run(command)
    assert shell.group in done.stdout and shell.instance in done.stdout


def diff(shell: Shell, command: str) -> None:
    done = shell.run(command)  # the store began today: everything in it was created since
    assert shell.group in done.stdout and "created" in done.stdout and shell.instance not in done.stdout
    assert " created, " in done.stdout and " deleted (" in done.stdout


def drift(shell: Shell, command: str) -> None:
    done = shell.run(command, columns=250)  # RDP opened on the group before `elava scan --output ocsf`: that drift
    (row,) = [line for line in done.stdout.splitlines() if "tcp port 3389 from 0.0.0.0/0" in line]
    assert "critical" in row and shell.group in done.stdout, done.stdout
    assert re.search(r"^1 drift \(0 out-of-band\)$", done.stdout, flags=re.M), done.stdout


def patterns(shell: Shell, command: str) -> None:
    done = shell.run(command)
    assert re.search(r"^\d+ patterns?$", done.stdout, flags=re.M), done.stdout


def who(shell: Shell, command: str) -> None:
    done = shell.run(command)
    assert "created" in done.stdout and "unknown" in done.stdout  # no CloudTrail in this story


def related(shell: Shell, command: str) -> None:
    done = shell.run(command)
    used_by = done.stdout.split("used by", 1)[-1]
    assert shell.instance in used_by and "security-groups" in used_by, done.stdout
    assert "vpc" in done.stdout.split("used by", 1)[0]  # what the group itself uses


def history_from_workers(shell: Shell, command: str) -> None:
    done = shell.run(command.replace("127.0.0.1:6066", f"127.0.0.1:{shell.web_port}"))  # the worker's port here
    assert "v1" in done.stdout and "created" in done.stdout and "tags: none" in done.stdout


def watch(shell: Shell, command: str) -> None:
    service = shell.start(command)
    service.wait_for(lambda: "cycle 1 " in service.output(), "a first cycle", timeout=300)
    service.stop()  # SIGTERM, as Ctrl-C: a clean stop
    assert service.process.returncode == 0 and "stopped" in service.output(), service.output()[-3000:]
    assert f"CloudTrail lookup/{ACCOUNT}/us-east-1" in service.output()  # moto has no LookupEvents: reported


def policy_list(shell: Shell, command: str) -> None:
    assert "open_admin_ports" in shell.run(command).stdout


def policy_eval(shell: Shell, command: str) -> None:
    scanned = shell.run("elava scan --output json --type ec2.security-group").stdout.splitlines()
    (group,) = [line for line in scanned if shell.group in line]
    (shell.folder / "resource.json").write_text(group)
    done = shell.run(command)
    assert "open_admin_ports" in done.stdout and "notify" in done.stdout


def policy_test(shell: Shell, command: str) -> None:
    assert " 0 failed" in shell.run(command).stdout


def trail_explain(shell: Shell, command: str) -> None:
    (shell.folder / "event.json").write_text(json.dumps(ingress_record(shell.group)))
    explained = json.loads(shell.run(command).stdout)
    assert explained["actor"]["name"] == "alice"
    assert [r["uid"] for r in explained["resources"]] == [
        f"arn:aws:ec2:us-east-1:{ACCOUNT}:security-group/{shell.group}"]


def waste(shell: Shell, command: str) -> None:
    # Nothing planted has been idle for a week: the list is there, and empty.
    assert "0 waste findings" in shell.run(command).stdout


def dlq_list(shell: Shell, command: str) -> None:
    shell.planted["dead"] = asyncio.run(dead_letter_a_page(shell))
    done = shell.run(command, columns=250)
    (row,) = [line for line in done.stdout.splitlines() if "processing error" in line]
    assert f"{shell.env['ELAVA_KAFKA__TOPIC_PREFIX']}.observations" in row, done.stdout


async def dead_letter_a_page(shell: Shell) -> str:
    """A page of a new security group that the worker put aside as it does when processing
    fails (the cause, say a bug, since fixed); the uid of the group."""
    kafka = shell.kafka_settings()
    group = shell.account.client("ec2").create_security_group(GroupName="put-aside", Description="dlq")["GroupId"]
    uid = f"arn:aws:ec2:us-east-1:{ACCOUNT}:security-group/{group}"
    shard = shard_of(uid, ACCOUNT, "us-east-1", "ec2.security-group", kafka.shard_buckets)
    page = Observation(scan_id="before-the-fix", account=ACCOUNT, region="us-east-1", type="ec2.security-group",
                       shard=shard, page=0, observed_at=utcnow(), shard_buckets=kafka.shard_buckets,
                       resources=[Resource(uid=uid, type="ec2.security-group", id=group, account=ACCOUNT,
                                           region="us-east-1", name="put-aside")])
    read = SimpleNamespace(topic=Topics(kafka).observations, partition=0, offset=0, key=shard.encode(),
                           value=page.to_bytes(), headers=cloudevent_headers(page, "elava/collector"))
    producer = new_producer(kafka)
    await producer.start()
    try:
        await dead_letter(via_producer(producer, Topics(kafka).dlq), read,
                          "processing error: RuntimeError: a bug, since fixed", by="elava/worker")
    finally:
        await producer.stop()
    return uid


def dlq_replay(shell: Shell, command: str) -> None:
    done = shell.run(command)
    assert done.stdout.strip().splitlines()[-1] == "1 replayed", done.stdout
    uid = shell.planted["dead"]  # sent back to the observations: the running worker stores it now

    def stored() -> bool:
        return any(row["uid"] == uid for row in get_json(shell.web_port, "/v1/inventory?type=ec2.security-group") or [])

    shell.service("elava worker &").wait_for(stored, "replayed page in the worker's store")


def ingress_record(group: str) -> dict:
    """CloudTrail's record of alice opening SSH on the group."""
    return {
        "eventVersion": "1.09", "eventTime": "2026-11-02T10:04:31Z", "eventSource": "ec2.amazonaws.com",
        "eventName": "AuthorizeSecurityGroupIngress", "awsRegion": "us-east-1", "recipientAccountId": ACCOUNT,
        "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCOUNT}:user/alice", "accountId": ACCOUNT,
                         "userName": "alice"},
        "requestParameters": {"groupId": group, "ipPermissions": {"items": [
            {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}},
    }


RUNS = {
    "elava demo": demo,
    "elava topics create": topics_create,
    "elava worker &": worker,
    "elava policy serve &": policy_serve,
    "elava collect --interval 300 &": collect,
    "elava executor &": executor,
    "elava actions --since 2h": actions,
    "elava scan --region eu-west-1": scan_one_region,
    "elava scan --risk-only": scan_risk_only,
    "elava scan --tiers critical,production": scan_tiers,
    "elava scan --output ocsf": scan_ocsf,
    f"elava history arn:aws:ec2:us-east-1:{ACCOUNT}:security-group/{EXAMPLE_GROUP}": history,
    "elava at 3d --type ec2.instance --tag env=prod": inventory_then,
    "elava changes --since 2h": changes,
    "elava diff 3d --type ec2.security-group": diff,
    "elava drift --since 24h --severity high": drift,
    "elava patterns --since 7d": patterns,
    f"elava who {EXAMPLE_GROUP}": who,
    f"elava related {EXAMPLE_GROUP} --depth 2": related,
    f"elava history {EXAMPLE_GROUP} --api http://127.0.0.1:6066": history_from_workers,
    "elava watch --interval 300": watch,
    "elava policy list": policy_list,
    "elava policy eval resource.json --actor alice": policy_eval,
    "elava policy test": policy_test,
    "elava trail explain event.json --output json": trail_explain,
    "elava dlq list --since 1d": dlq_list,
    "elava dlq replay --reason 'processing error'": dlq_replay,
    "elava demo --bootstrap-servers 127.0.0.1:9092": demo,
    "elava collect --serve": collect_serve,
    "elava waste --reason unattached-volume": waste,
}
