"""The shipped policies fire on what the collectors really publish (moto, real scanner)."""

from __future__ import annotations

from elava.catalogue import registry
from streams.policy.cases import said
from streams.policy.samples import sample_change
from tests.unit.collectors.conftest import ami, aws, boto, moto_url, scan, session  # noqa: F401  moto fixtures

TYPES = ["ec2.security-group", "ec2.volume", "rds.instance", "s3.bucket", "ec2.instance"]


def _set_the_scene(ec2, rds, s3, image: str) -> dict[str, str]:
    group = ec2.create_security_group(GroupName="bastion", Description="ssh")["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=50, VolumeType="gp3")["VolumeId"]
    rds.create_db_instance(DBInstanceIdentifier="orders", DBInstanceClass="db.t3.micro", Engine="postgres",
                           MasterUsername="admin", MasterUserPassword="secret-secret", AllocatedStorage=20,
                           StorageEncrypted=False, Tags=[{"Key": "environment", "Value": "production"}])
    s3.create_bucket(Bucket="shared-assets")
    s3.put_bucket_acl(Bucket="shared-assets", ACL="public-read")
    s3.create_bucket(Bucket="private-logs")  # no public access block, and nothing public
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    return {"group": group, "volume": volume, "db": "orders", "bucket": "shared-assets", "instance": instance}


def _policies_by_resource(shipped, resources) -> dict[str, dict[str, dict]]:
    found: dict[str, dict[str, dict]] = {}
    for resource in resources:
        change = sample_change(resource, actor={"name": "alice", "kind": "human"})
        outputs = shipped.evaluate(change)
        for policy in {o.policy for o in outputs}:
            found.setdefault(resource.id, {})[policy] = said([o for o in outputs if o.policy == policy])
    return found


async def test_the_shipped_policies_fire_on_a_moto_scan(shipped, scan, boto, ami):  # noqa: F811
    ids = _set_the_scene(boto("ec2"), boto("rds"), boto("s3"), ami)
    run = await scan([registry.get(name) for name in TYPES])
    found = _policies_by_resource(shipped, run.resources())

    assert found[ids["group"]]["open_admin_ports"]["actions"] == [
        {"type": "notify", "params": {"ports": [22], "severity": "critical"}}]
    assert found[ids["volume"]]["unattached_volume"]["actions"] == [
        {"type": "delete", "params": {"size_gib": 50, "volume_type": "gp3"}}]
    assert found["orders"]["rds_encryption"]["deny"] == [
        "unencrypted rds.instance orders in production: storage encryption is off"]
    assert found["shared-assets"]["s3_public_access"]["deny"] == [
        "bucket shared-assets is public: its ACL grants AllUsers:READ"]
    assert "s3_public_access" not in found.get("private-logs", {})
    assert found[ids["instance"]]["tagging"]["actions"] == [
        {"type": "tag", "params": {"tags": {"owner": "alice", "elava_managed": "true"}}}]
    assert set(found[ids["instance"]]) == {"tagging", "required_tags"}
