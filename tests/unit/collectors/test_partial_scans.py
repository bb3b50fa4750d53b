"""Partial is partial: a failed or throttled scan never turns into deletions."""

from collectors.sink import TeeSink
from elava.catalogue import registry
from streams.drivers.embedded.pipeline import EmbeddedPipeline
from streams.store.kv import MemoryKV
from streams.store.versioned import VersionStore

TYPES = [registry.get(n) for n in ("ec2.instance", "ec2.security-group", "s3.bucket")]


async def test_access_denied_and_throttling_delete_nothing(scan, boto, ami, faults):
    ec2 = boto("ec2")
    ec2.run_instances(ImageId=ami, MinCount=2, MaxCount=2)
    ec2.create_security_group(GroupName="kept", Description="d")
    boto("s3").create_bucket(Bucket="kept-bucket")
    pipeline = EmbeddedPipeline(VersionStore(MemoryKV()))

    first = await scan(TYPES, sink=pipeline, scan_id="ok-scan")
    assert not first.report.partial
    created = {c.uid for c in pipeline.outputs.changes if c.kind == "created"}
    assert {c.type for c in pipeline.outputs.changes} == {"ec2.instance", "ec2.security-group", "s3.bucket"}
    pipeline.outputs.clear()

    faults.fail("before-call.ec2.DescribeSecurityGroups", "AccessDenied")
    faults.fail("before-call", "Throttling", probability=0.3, seed=11)
    second = await scan(TYPES, sink=TeeSink(pipeline), scan_id="partial-scan")

    assert [(r.type, r.error_class) for r in second.report.failures()] == [("ec2.security-group", "access-denied")]
    throttled = [name for name in faults.injected if name != "DescribeSecurityGroups"]
    assert throttled, "throttling was injected on the other calls too"
    assert pipeline.outputs.changes == [], "a partial scan must not change or delete anything"
    store = pipeline.store
    assert all(not store.head(uid).deleted for uid in created)
