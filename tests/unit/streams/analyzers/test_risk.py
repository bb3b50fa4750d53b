from elava.catalogue import registry
from elava.events import Resource
from streams.analyzers.risk import high_risk_untracked, is_tracked, risks


def res(type_="ec2.security-group", tags=None, **attributes):
    return Resource(uid=f"arn:x:{type_}", type=type_, id="x", account="1", region="r", tags=tags or {},
                    attributes=attributes)


def test_world_open_ingress_is_a_risk():
    assert risks(res(ingress=[{"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "0.0.0.0/0"}])) == [
        "open to 0.0.0.0/0"]
    assert risks(res(ingress=[{"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "10.0.0.0/8"}])) == []


def test_public_signals():
    assert risks(res("rds.instance", publicly_accessible=True, storage_encrypted=True)) == ["public"]
    assert risks(res("elbv2.load-balancer", scheme="internet-facing")) == ["public"]
    assert risks(res("lambda.function", url_auth_type="NONE")) == ["public"]
    assert risks(res("ec2.snapshot", public=True, encrypted=True)) == ["public"]


def _bucket(**raw):
    # The bucket's own shaping (through the registry: importing a family module first would
    # change the order types register in).
    return res("s3.bucket", **registry.get("s3.bucket").transform({}, raw))


def test_a_bucket_without_a_block_is_not_public_for_that_alone():
    assert risks(_bucket()) == ["unencrypted"]  # no block, private ACL, no policy, no default encryption
    public_acl = [{"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
                   "Permission": "READ"}]
    assert risks(_bucket(Acl=public_acl, Encryption=[{"ApplyServerSideEncryptionByDefault": {
        "SSEAlgorithm": "AES256"}}])) == ["public"]
    assert risks(_bucket(PolicyPublic=True, AccountPublicAccessBlock={"RestrictPublicBuckets": True})) == [
        "unencrypted"]


def test_unencrypted_volume():
    assert risks(res("ec2.volume", encrypted=False)) == ["unencrypted"]


def test_risk_only_means_untracked_and_exposed():
    exposed = {"ingress": [{"protocol": "-1", "cidr": "0.0.0.0/0"}]}
    assert high_risk_untracked(res(**exposed))
    assert not high_risk_untracked(res(tags={"owner": "alice"}, **exposed))
    assert not high_risk_untracked(res())
    assert is_tracked(res(tags={"Team": "web"})) and not is_tracked(res(tags={"owner": ""}))


def _queue(**attributes):
    return res("sqs.queue", **registry.get("sqs.queue").transform({}, {"Attributes": attributes}))


def test_a_queue_open_to_anyone_without_a_condition_is_public():
    anyone = '{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage"}]}'
    narrowed = ('{"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sqs:SendMessage",'
                ' "Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:eu-west-1:111122223333:t"}}}]}')
    assert risks(_queue(Policy=anyone, SqsManagedSseEnabled="true")) == ["public"]
    assert risks(_queue(Policy=narrowed, SqsManagedSseEnabled="true")) == []
    assert risks(_queue(SqsManagedSseEnabled="false")) == ["unencrypted"]
