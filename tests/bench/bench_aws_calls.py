"""Benchmark of AWS calls per resource: a first full scan, then steady cycles with nothing changed.

Run: ``python -m tests.bench.bench_aws_calls [--estate issue|mixed] [--cycles 2]``.
Prints one JSON object on stdout (progress on stderr). Not a test: nothing asserts.

The estate is made in moto (server mode, as the collector tests use it); the real
scanner scans it with one `DetailCache` kept across cycles, as `elava collect
--interval` keeps it. Calls are counted twice: by the scanner (every attempt, per type)
and by moto's request recorder (every request that reached the server, per service and
operation), so a call the scanner does not count cannot hide.

- ``issue``: the estate of the issue that asked for fewer calls (50 buckets, 30 DynamoDB
  tables, 50 security groups plus the default one, 50 volumes) plus 20 SQS queues and 20
  log groups (types added since);
- ``mixed``: closer to an organisation's account: mostly EC2 (instances, volumes,
  snapshots, security groups, subnets), some roles, buckets, tables, queues, log groups.
Half of each type's resources carry tags.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

RECORDING = Path(tempfile.mkdtemp(prefix="elava-bench-calls-")) / "recording.jsonl"
os.environ["MOTO_RECORDER_FILEPATH"] = str(RECORDING)  # read by moto when it is imported
os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
for _name, _value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                      ("AWS_DEFAULT_REGION", "us-east-1")):
    os.environ[_name] = _value

import aioboto3  # noqa: E402

from collectors.aws.detail_cache import DetailCache  # noqa: E402
from collectors.aws.scanner import scan_account  # noqa: E402
from collectors.redact import Redactor  # noqa: E402
from collectors.sink import ListSink  # noqa: E402
from elava.catalogue import registry  # noqa: E402
from elava.demo.simulated import ACCOUNT, IMAGE_ID, REGION, SimulatedAccount  # noqa: E402

ESTATES = {
    "issue": {"s3.bucket": 50, "dynamodb.table": 30, "ec2.security-group": 50, "ec2.volume": 50,
              "sqs.queue": 20, "logs.log-group": 20},
    "mixed": {"ec2.instance": 120, "ec2.volume": 90, "ec2.snapshot": 70, "ec2.security-group": 60,
              "ec2.subnet": 20, "iam.role": 30, "s3.bucket": 25, "dynamodb.table": 15, "sqs.queue": 20,
              "logs.log-group": 40},
}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def tags(n: int) -> list[dict[str, str]]:
    return [{"Key": "team", "Value": f"team-{n % 3}"}, {"Key": "Name", "Value": f"r-{n}"}] if n % 2 == 0 else []


def make_estate(account: SimulatedAccount, counts: dict[str, int]) -> None:
    """Creates the estate; the default VPC's subnets and security group come with moto."""
    ec2, s3, ddb = account.client("ec2"), account.client("s3"), account.client("dynamodb")
    sqs, logs, iam = account.client("sqs"), account.client("logs"), account.client("iam")
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    for n in range(counts.get("s3.bucket", 0)):
        s3.create_bucket(Bucket=f"bench-bucket-{n}")
        if tags(n):
            s3.put_bucket_tagging(Bucket=f"bench-bucket-{n}", Tagging={"TagSet": tags(n)})
    for n in range(counts.get("dynamodb.table", 0)):
        ddb.create_table(TableName=f"bench-table-{n}", BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                         **({"Tags": tags(n)} if tags(n) else {}))
    for n in range(counts.get("ec2.security-group", 0)):
        ec2.create_security_group(GroupName=f"bench-sg-{n}", Description="bench", VpcId=vpc,
                                  **_ec2_tags("security-group", n))
    for n in range(counts.get("ec2.volume", 0)):
        ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=8, **_ec2_tags("volume", n))
    for n in range(counts.get("sqs.queue", 0)):
        sqs.create_queue(QueueName=f"bench-queue-{n}", tags={t["Key"]: t["Value"] for t in tags(n)})
    for n in range(counts.get("logs.log-group", 0)):
        logs.create_log_group(logGroupName=f"/bench/group-{n}", **({"tags": {t["Key"]: t["Value"] for t in tags(n)}}
                                                                  if tags(n) else {}))
    _make_ec2_mix(ec2, vpc, counts)
    for n in range(counts.get("iam.role", 0)):
        iam.create_role(RoleName=f"bench-role-{n}", AssumeRolePolicyDocument="{}", Tags=tags(n))


def _ec2_tags(kind: str, n: int) -> dict:
    return {"TagSpecifications": [{"ResourceType": kind, "Tags": tags(n)}]} if tags(n) else {}


def _make_ec2_mix(ec2, vpc: str, counts: dict[str, int]) -> None:
    if counts.get("ec2.instance"):
        ec2.run_instances(ImageId=IMAGE_ID, MinCount=counts["ec2.instance"], MaxCount=counts["ec2.instance"],
                          InstanceType="t3.micro")
    volumes = [v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]]
    for n in range(counts.get("ec2.snapshot", 0)):
        ec2.create_snapshot(VolumeId=volumes[n % len(volumes)], **_ec2_tags("snapshot", n))
    for n in range(counts.get("ec2.subnet", 0)):
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"172.31.{100 + n}.0/24", **_ec2_tags("subnet", n))


def recorder(account: SimulatedAccount, action: str) -> str:
    method = "GET" if action == "download-recording" else "POST"
    request = urllib.request.Request(f"{account.endpoint_url}/moto-api/recorder/{action}", method=method)
    with urllib.request.urlopen(request, timeout=30) as answer:
        return answer.read().decode()


def recorded_calls(text: str) -> Counter[str]:
    """``service:Operation`` per recorded request (S3's REST calls by their sub-resource)."""
    found: Counter[str] = Counter()
    for line in text.splitlines():
        entry = json.loads(line)
        headers = {key.lower(): value for key, value in entry["headers"].items()}
        scope = headers.get("authorization", "").split("Credential=")[-1].split("/")
        service = scope[3] if len(scope) > 3 else "?"
        found[f"{service}:{_operation(entry, headers)}"] += 1
    return found


def _operation(entry: dict, headers: dict[str, str]) -> str:
    if "x-amz-target" in headers:
        return headers["x-amz-target"].split(".")[-1]
    body = entry.get("body") or ""
    if entry.get("body_encoded"):
        body = base64.b64decode(body).decode(errors="replace")
    if "Action=" in body:
        return parse_qs(body)["Action"][0]
    url = urlsplit(entry["url"])
    if "Action=" in url.query:
        return parse_qs(url.query)["Action"][0]
    sub = [key for key in parse_qs(url.query, keep_blank_values=True) if key not in ("max-keys", "max-buckets")]
    return f"{entry['method']} {url.path.count('/') > 1 and 'bucket' or url.path}{'?' + sub[0] if sub else ''}"


async def scan(account: SimulatedAccount, names: list[str], cache: DetailCache, cycle: int) -> dict:
    sink = ListSink()
    recorder(account, "reset-recording")
    recorder(account, "start-recording")
    report = await scan_account(
        aioboto3.Session(region_name=REGION), ACCOUNT, [REGION], [registry.get(name) for name in names], sink,
        buckets=4, page_size=100, endpoint_url=account.endpoint_url, scan_id=f"bench-{cycle}",
        redactor=Redactor(b"bench-redaction-key-0123456789abcdef"), details=cache)
    recorder(account, "stop-recording")
    recorded = recorded_calls(recorder(account, "download-recording"))
    assert not report.partial, report.failures()
    counted = Counter({name: 0 for name in names})
    counted.update(report.calls_by_type())
    resources = Counter(resource.type for resource in sink.resources())
    per_type = {name: {"resources": resources[name], "calls": counted[name],
                       "calls_per_resource": round(counted[name] / max(1, resources[name]), 3)} for name in names}
    total_resources, total_calls = sum(resources.values()), report.calls
    return {"types": per_type, "shared_calls": report.shared_calls, "resources": total_resources,
            "calls": total_calls, "calls_per_resource": round(total_calls / max(1, total_resources), 3),
            "recorded_calls": sum(recorded.values()), "recorded": dict(sorted(recorded.items()))}


async def run(args: argparse.Namespace) -> dict:
    counts = ESTATES[args.estate]
    with SimulatedAccount() as account:
        log(f"making the {args.estate} estate")
        make_estate(account, counts)
        cache = DetailCache(refresh=timedelta(hours=6))
        cycles = []
        for cycle in range(args.cycles):
            log(f"scan {cycle + 1}")
            cycles.append(await scan(account, sorted(counts), cache, cycle))
    return {"estate": args.estate, "first_scan": cycles[0], "steady_cycles": cycles[1:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--estate", choices=sorted(ESTATES), default="issue")
    parser.add_argument("--cycles", type=int, default=2, help="scans in a row (the first is the full scan)")
    print(json.dumps(asyncio.run(run(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
