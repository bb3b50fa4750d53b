"""Resource types as data: the registry, declaration checks, and the pure shaping."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from collectors.aws import registry
from collectors.aws.build import build_resource
from collectors.aws.calls import BOTOCORE_RETRIES, Backoff, client_config
from collectors.aws.errors import classify_error, describe_error
from collectors.aws.normalize import partition_for, tags_to_dict, to_json_safe
from collectors.aws.types import DetailCall, ResourceType
from collectors.exceptions import InvalidResourceType, UnknownResourceType

MINIMAL = dict(name="ec2.thing", service="ec2", list_operation="describe_things", result_path="Things",
               id_field="ThingId", arn_template="arn:{partition}:ec2:{region}:{account}:thing/{id}")


def test_registry_lists_the_families_types_by_name():
    names = [rt.name for rt in registry.all_types()]
    assert names == sorted(names)
    assert {"ec2.instance", "s3.bucket", "ec2.security-group"} <= set(names)
    assert registry.get("s3.bucket").global_service
    assert registry.select(["s3.bucket"]) == [registry.get("s3.bucket")]
    assert registry.select(None) == registry.all_types()


def test_unknown_type_names_the_known_ones():
    with pytest.raises(UnknownResourceType, match="ec2.instance"):
        registry.get("ec2.nope")


def test_registering_a_different_type_under_a_taken_name_fails():
    registry.register(registry.get("s3.bucket"))  # the same definition again: harmless
    with pytest.raises(InvalidResourceType, match="twice"):
        registry.register(ResourceType(**{**MINIMAL, "name": "s3.bucket"}))


@pytest.mark.parametrize(("change", "complaint"), [
    ({"name": "Thing"}, "service.kind"),
    ({"arn_template": None}, "arn"),
    ({"tags_from": "Tags"}, "inline:"),
    ({"tags_from": "detail:TagSet"}, "names no detail call"),
    ({"region_detail": DetailCall("get_x", {"Id": "ThingId"}, "Region")}, "global_service"),
    ({"attributes": {"bad": "Things[?"}}, "bad expression"),
])
def test_contradictory_declarations_fail_when_declared(change, complaint):
    with pytest.raises(InvalidResourceType, match=complaint):
        ResourceType(**{**MINIMAL, **change})


def test_declarations_are_frozen():
    rt = ResourceType(**{**MINIMAL, "list_params": {"OwnerIds": ["self"]}})
    with pytest.raises(TypeError):
        rt.list_params["OwnerIds"] = []  # type: ignore[index]


def test_build_resource_is_pure_shaping():
    thing = ResourceType(**{**MINIMAL, "tags_from": "inline:Tags",
                            "attributes": {"size": "Size", "created": "Created", "ports": "sort(Ports)"}})
    item = {"ThingId": "t-1", "Size": Decimal("3"), "Ports": [443, 22],
            "Created": datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2))),
            "Tags": [{"Key": "Name", "Value": "one"}, {"Key": "cost-center", "Value": "42"}]}

    resource = build_resource(thing, item, account="111122223333", region="cn-north-1")

    assert resource.uid == "arn:aws-cn:ec2:cn-north-1:111122223333:thing/t-1"
    assert (resource.id, resource.name) == ("t-1", "one")
    assert resource.tags == {"Name": "one", "cost-center": "42"}
    assert resource.attributes == {"size": 3, "created": "2025-01-02T01:04:05+00:00", "ports": [22, 443]}


def test_tags_in_every_aws_shape_become_a_plain_dict():
    assert tags_to_dict([{"Key": "a", "Value": "1"}]) == {"a": "1"}
    assert tags_to_dict([{"key": "a", "value": "1"}]) == {"a": "1"}
    assert tags_to_dict([{"TagKey": "a", "TagValue": None}]) == {"a": ""}
    assert tags_to_dict({"a": "1"}) == {"a": "1"}
    assert tags_to_dict(None) == {}


def test_values_become_json():
    naive = datetime(2025, 1, 1, 12, 0)
    assert to_json_safe({"t": naive, "b": b"\x00\x01", "s": {3, 1}, "d": Decimal("1.5")}) == {
        "t": "2025-01-01T12:00:00+00:00", "b": "AAE=", "s": [1, 3], "d": 1.5}
    assert partition_for("us-gov-west-1") == "aws-us-gov" and partition_for("eu-west-1") == "aws"


def test_botocore_is_configured_for_adaptive_retries():
    config = client_config(max_concurrency=32, endpoint_url=None)
    assert config.retries == BOTOCORE_RETRIES == {"mode": "adaptive", "max_attempts": 10}
    assert config.max_pool_connections == 32
    with pytest.raises(ValueError):
        Backoff(attempts=0)


def test_errors_are_classified_through_task_groups():
    from botocore.exceptions import ClientError

    denied = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "ListThings")
    grouped = ExceptionGroup("details", [ExceptionGroup("item", [denied])])
    assert classify_error(grouped) == "access-denied"
    assert describe_error(grouped).startswith("ClientError: An error occurred (AccessDeniedException)")
    assert len(describe_error(RuntimeError("x" * 1000))) <= 300
