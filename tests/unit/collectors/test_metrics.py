"""The collectors' metrics part against moto's CloudWatch: data put with PutMetricData, read
with GetMetricData in batches, summarised, counted, published; the waste analyzer (through
the embedded pipeline) raises, updates and resolves as the metrics change; a throttled
call raises nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from collectors.metrics.plan import Learnt, Query, batches, p95, queries_for, summarise
from collectors.metrics.service import InventoryTap, fetch_for, measure_region
from collectors.sink import ListSink
from elava.catalogue import registry
from elava.events import Resource
from streams.drivers.embedded.pipeline import EmbeddedPipeline
from streams.store.kv import MemoryKV
from streams.store.versioned import VersionStore
from tests.unit.collectors.conftest import ACCOUNT, FAST_BACKOFF

REGION = "us-east-1"
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
WINDOW = 14 * DAY


def hour_floor(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def put_hourly(cloudwatch, namespace: str, metric: str, dimension: tuple[str, str], end: datetime,
               value_at) -> None:
    """One datapoint an hour over the 14 days before ``end``: ``value_at(hour index)``."""
    data = [{"MetricName": metric, "Dimensions": [{"Name": dimension[0], "Value": dimension[1]}],
             "Timestamp": end - (h + 1) * HOUR + timedelta(minutes=5), "Value": float(value_at(h))}
            for h in range(int(WINDOW / HOUR))]
    for start in range(0, len(data), 1000):
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[start:start + 1000])


class Measured:
    """A scan of real moto resources into the embedded pipeline, then metrics as the collector fetches them."""

    def __init__(self, scan, session, aws) -> None:
        self.scan_, self.session, self.aws = scan, session, aws
        self.pipeline = EmbeddedPipeline(VersionStore(MemoryKV()))
        self.tap = InventoryTap(self.pipeline)

    async def scan(self, *type_names: str, **options):
        return await self.scan_([registry.get(name) for name in type_names], sink=self.tap, buckets=2, **options)

    async def measure(self, now: datetime, **options):
        fetch = fetch_for(ACCOUNT, REGION, now, WINDOW, buckets=2)
        options.setdefault("backoff", FAST_BACKOFF)
        return await measure_region(self.session, fetch, self.tap.resources.get((ACCOUNT, REGION), []),
                                    self.tap.complete(ACCOUNT, REGION), self.pipeline, endpoint_url=self.aws,
                                    **options)

    def waste(self) -> list:
        found, self.pipeline.outputs.waste[:] = list(self.pipeline.outputs.waste), []
        return found


@pytest.fixture
def measured(scan, session, aws) -> Measured:
    return Measured(scan, session, aws)


async def test_an_oversized_instance_appears_updates_and_resolves_as_its_cpu_changes(measured, boto, ami):
    ec2, cloudwatch = boto("ec2"), boto("cloudwatch")
    [instance] = ec2.run_instances(ImageId=ami, InstanceType="m5.4xlarge", MinCount=1, MaxCount=1)["Instances"]
    ec2.create_tags(Resources=[instance["InstanceId"]], Tags=[{"Key": "owner", "Value": "team-a"}])
    await measured.scan("ec2.instance")
    first = hour_floor(datetime.now(UTC)) + 16 * DAY  # launched before this window began
    second, third = first + WINDOW, first + 2 * WINDOW
    where = ("InstanceId", instance["InstanceId"])
    put_hourly(cloudwatch, "AWS/EC2", "CPUUtilization", where, first, lambda h: 2 + h % 2)
    put_hourly(cloudwatch, "AWS/EC2", "CPUUtilization", where, second, lambda h: 6)
    put_hourly(cloudwatch, "AWS/EC2", "CPUUtilization", where, third, lambda h: 10 + h % 80)

    report = await measured.measure(first)
    [opened] = measured.waste()
    assert (opened.pattern, opened.status, opened.evidence["cpu_p95_percent"]) == ("oversized-instance", "open", 3)
    assert opened.units["instance_type"] == "m5.4xlarge" and report.calls == 1

    await measured.measure(second)
    [updated] = measured.waste()
    assert (updated.status, updated.evidence["cpu_p95_percent"], updated.since) == ("updated", 6, opened.since)

    await measured.measure(third)
    [resolved] = measured.waste()
    assert resolved.status == "resolved"


async def test_an_idle_nat_gateway_appears_and_resolves_with_traffic(measured, boto):
    ec2, cloudwatch = boto("ec2"), boto("cloudwatch")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=allocation, TagSpecifications=[
        {"ResourceType": "natgateway", "Tags": [{"Key": "owner", "Value": "net"}]}])["NatGateway"]["NatGatewayId"]
    await measured.scan("ec2.nat-gateway")
    first = hour_floor(datetime.now(UTC)) + 16 * DAY
    for metric in ("BytesOutToDestination", "BytesInFromSource"):
        put_hourly(cloudwatch, "AWS/NATGateway", metric, ("NatGatewayId", nat), first, lambda h: 0)
        put_hourly(cloudwatch, "AWS/NATGateway", metric, ("NatGatewayId", nat), first + WINDOW,
                   lambda h: 1000 if h == 3 else 0)

    await measured.measure(first)
    [idle] = measured.waste()
    assert (idle.pattern, idle.evidence["bytes_out_total"], idle.evidence["window_days"]) == ("idle-nat-gateway", 0, 14)
    await measured.measure(first + WINDOW)
    assert [f.status for f in measured.waste()] == ["resolved"]


async def test_a_throttled_metrics_call_raises_no_finding(measured, boto, faults, ami):
    ec2, cloudwatch = boto("ec2"), boto("cloudwatch")
    [instance] = ec2.run_instances(ImageId=ami, InstanceType="m5.8xlarge", MinCount=1, MaxCount=1)["Instances"]
    ec2.create_tags(Resources=[instance["InstanceId"]], Tags=[{"Key": "owner", "Value": "team-a"}])
    await measured.scan("ec2.instance")
    first = hour_floor(datetime.now(UTC)) + 16 * DAY
    put_hourly(cloudwatch, "AWS/EC2", "CPUUtilization", ("InstanceId", instance["InstanceId"]), first, lambda h: 1)
    faults.fail("before-call.cloudwatch.GetMetricData", "Throttling")

    report = await measured.measure(first)

    assert measured.waste() == []
    assert report.failures and "throttled" in report.failures[0]
    assert report.calls == FAST_BACKOFF.attempts  # retried, then given up: every attempt counted


async def test_the_same_data_without_throttling_is_a_finding(measured, boto, ami):
    """The throttling test's control: the very same data, answered, is oversized."""
    ec2, cloudwatch = boto("ec2"), boto("cloudwatch")
    [instance] = ec2.run_instances(ImageId=ami, InstanceType="m5.8xlarge", MinCount=1, MaxCount=1)["Instances"]
    ec2.create_tags(Resources=[instance["InstanceId"]], Tags=[{"Key": "owner", "Value": "team-a"}])
    await measured.scan("ec2.instance")
    first = hour_floor(datetime.now(UTC)) + 16 * DAY
    put_hourly(cloudwatch, "AWS/EC2", "CPUUtilization", ("InstanceId", instance["InstanceId"]), first, lambda h: 1)
    await measured.measure(first)
    assert [f.pattern for f in measured.waste()] == ["oversized-instance"]


async def test_usage_is_counted_from_a_complete_scan_only(measured, boto, ami, faults):
    ec2 = boto("ec2")
    gone = ec2.create_volume(AvailabilityZone="us-east-1a", Size=8)["VolumeId"]
    kept = ec2.create_volume(AvailabilityZone="us-east-1a", Size=8)["VolumeId"]
    orphan = ec2.create_snapshot(VolumeId=gone)["SnapshotId"]
    ec2.delete_volume(VolumeId=gone)
    image = ec2.register_image(Name="web", RootDeviceName="/dev/sda1", BlockDeviceMappings=[
        {"DeviceName": "/dev/sda1", "Ebs": {"SnapshotId": orphan}}])["ImageId"]
    unused = ec2.register_image(Name="old", RootDeviceName="/dev/sda1")["ImageId"]
    # moto makes each registered image a snapshot of its own (the mapping's id is not kept)
    backing = ec2.describe_images(ImageIds=[image])["Images"][0]["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
    ec2.run_instances(ImageId=image, InstanceType="t3.micro", MinCount=1, MaxCount=1)
    sink = ListSink()
    measured.pipeline = sink  # the published samples themselves
    measured.tap = InventoryTap(sink)
    await measured.scan("ec2.volume", "ec2.snapshot", "ec2.image", "ec2.instance")

    await measured.measure(datetime.now(UTC))

    values = {s.uid.rsplit("/", 1)[-1]: s.values for page in sink.metric_pages for s in page.samples}
    assert values[orphan] == {"present.ec2.volume": 0.0, "used_by.ec2.image": 0.0}
    assert values[backing]["used_by.ec2.image"] == 1.0
    assert values[image] == {"used_by.ec2.instance": 1.0, "present.ec2.snapshot": 1.0}
    assert values[unused]["used_by.ec2.instance"] == 0.0
    assert kept not in values  # volumes get no counts: no rule of theirs needs one
    assert {page.type for page in sink.metric_pages} == {"ec2.snapshot", "ec2.image", "ec2.instance"}


async def test_usage_is_missing_when_the_users_scan_failed(measured, boto, ami, faults):
    ec2 = boto("ec2")
    volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=8)["VolumeId"]
    snapshot = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
    image = ec2.register_image(Name="web", RootDeviceName="/dev/sda1", BlockDeviceMappings=[
        {"DeviceName": "/dev/sda1", "Ebs": {"SnapshotId": snapshot}}])["ImageId"]
    faults.fail("before-call.ec2.DescribeInstances", "UnauthorizedOperation")
    sink = ListSink()
    measured.tap = InventoryTap(sink)
    measured.pipeline = sink
    await measured.scan("ec2.volume", "ec2.snapshot", "ec2.image", "ec2.instance")

    await measured.measure(datetime.now(UTC))

    [sample] = [s for page in sink.metric_pages for s in page.samples if s.uid.endswith(image)]
    assert "used_by.ec2.instance" not in sample.values
    assert "not scanned completely" in sample.missing["used_by.ec2.instance"]


def nat(number: int) -> Resource:
    rid = f"nat-{number:05d}"
    return Resource(uid=f"arn:aws:ec2:{REGION}:{ACCOUNT}:natgateway/{rid}", type="ec2.nat-gateway", id=rid,
                    account=ACCOUNT, region=REGION, attributes={"state": "available"})


async def test_queries_go_500_to_a_call(session, aws):
    gateways = [(nat(n), f"{ACCOUNT}/{REGION}/ec2.nat-gateway/0") for n in range(600)]  # 2 metrics each
    sink = ListSink()
    report = await measure_region(session, fetch_for(ACCOUNT, REGION, datetime.now(UTC), WINDOW, 1), gateways,
                                  set(), sink, endpoint_url=aws, backoff=FAST_BACKOFF)
    assert (report.queries, report.calls, report.samples) == (1200, 3, 600)
    # No datapoints for metrics published even at zero: missing, never zero.
    assert {why for page in sink.metric_pages for s in page.samples for why in s.missing.values()} == {
        "no datapoints"}


def test_batches_respect_the_query_and_datapoint_limits():
    window_queries = queries_for([nat(n) for n in range(700)])  # 1,400 one-datapoint queries
    assert [len(b) for b in batches(window_queries, WINDOW)] == [500, 500, 400]
    hourly = [Query(f"q{n}", f"u{n}", registry.get("ec2.instance").usage.metrics[0], (("InstanceId", f"i-{n}"),))
              for n in range(700)]  # 336 datapoints each: 300 fit under 100,800
    assert [len(b) for b in batches(hourly, WINDOW)] == [300, 300, 100]


def test_answers_are_trusted_only_complete_and_absence_is_zero_only_where_aws_says_so():
    balancer = Resource(uid="arn:lb", type="elbv2.load-balancer", id="app/web/1", account=ACCOUNT, region=REGION,
                        attributes={"type": "application"})
    [requests] = queries_for([balancer])
    [traffic, _] = queries_for([nat(1)])
    learnt = Learnt()
    summarise(requests, {"StatusCode": "Complete", "Values": []}, WINDOW, learnt)
    summarise(traffic, {"StatusCode": "PartialData", "Values": [5.0]}, WINDOW, learnt)
    assert learnt.values == {"arn:lb": {"requests": 0.0}}
    assert learnt.missing[nat(1).uid] == {"bytes_out": "CloudWatch answered PartialData"}


def test_p95_is_nearest_rank_and_sparse_hours_are_missing():
    assert p95([float(v) for v in range(1, 101)]) == 95.0
    [cpu] = queries_for([Resource(uid="arn:i", type="ec2.instance", id="i-1", account=ACCOUNT, region=REGION,
                                  attributes={"state": "running"})])
    learnt = Learnt()
    summarise(cpu, {"StatusCode": "Complete", "Values": [1.0] * 100}, WINDOW, learnt)  # 100 of 336 hours
    assert learnt.missing == {"arn:i": {"cpu": "datapoints for 100 of 336 hours"}}
