"""Resource types as data: the registry, declaration checks, and the pure shaping."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from collectors.aws.build import build_resource
from collectors.aws.calls import BOTOCORE_RETRIES, Backoff, client_config
from collectors.aws.errors import classify_error, describe_error
from collectors.aws.normalize import tags_to_dict, to_json_safe
from elava.catalogue import registry
from elava.catalogue.arns import partition_for
from elava.catalogue.exceptions import InvalidResourceType, UnknownResourceType
from elava.catalogue.types import Batch, DetailCall, ParentListing, ResourceType

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


def _detail(**changes) -> DetailCall:
    return DetailCall(**{"operation": "describe_tags", "params": {"ResourceArns": "Arn"}, "store_as": "Tags",
                         "result_path": "TagDescriptions", **changes})


@pytest.mark.parametrize(("make", "complaint"), [
    (lambda: _detail(batch=Batch("Arns", 20, match="ResourceArn")), "not in params"),
    (lambda: _detail(result_path=None, batch=Batch("ResourceArns", 20, match="ResourceArn")), "result_path"),
    (lambda: _detail(paged=True, batch=Batch("ResourceArns", 20, match="ResourceArn")), "neither page"),
    (lambda: _detail(result_path=None, paged=True), "result_path"),
    (lambda: _detail(each=_detail(batch=Batch("ResourceArns", 20, match="ResourceArn"))), "cannot be batched"),
    (lambda: Batch("ResourceArns", 0, match="ResourceArn"), "at least 1"),
    (lambda: ResourceType(**MINIMAL, describe=_detail(default=[])), "describe's default"),
    (lambda: ResourceType(**MINIMAL, parent=ParentListing("list_parents", "Parents", {"Parent": "Id"}, "Tags"),
                          details=(_detail(),)), "both store"),
])
def test_contradictory_detail_calls_fail_when_declared(make, complaint):
    with pytest.raises(InvalidResourceType, match=complaint):
        make()


def test_a_type_names_every_operation_it_calls_once_in_order():
    thing = ResourceType(**{**MINIMAL, "parent": ParentListing("list_parents", "Parents", {"Parent": "Id"}, "P"),
                            "describe": _detail(operation="describe_things", store_as="Thing"),
                            "details": (_detail(operation="list_parts", each=_detail(operation="describe_part")),)})

    assert thing.operations() == [("ec2", "list_parents"), ("ec2", "describe_things"),
                                  ("ec2", "list_parts"), ("ec2", "describe_part")]


def test_tags_inside_a_detail_and_ids_cut_from_a_path():
    zone = ResourceType(**{**MINIMAL, "id_field": "split(Id, '/')[-1]", "tags_from": "detail:Thing.tags",
                           "describe": _detail(operation="get_thing", params={"Id": "Id"}, store_as="Thing")})

    resource = build_resource(zone, {"Id": "/thing/T1", "Thing": {"tags": {"env": "prod"}}},
                              account="111122223333", region="eu-west-1")

    assert (resource.id, resource.tags) == ("T1", {"env": "prod"})
    assert resource.uid == "arn:aws:ec2:eu-west-1:111122223333:thing/T1"


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


def test_a_collected_resource_is_stored_as_its_json_mode_dump():
    """The embedded driver stores a collector's resource as it is (``json_form``, collectors/sink.py):
    what the collector makes of AWS's values must be what pydantic's JSON mode would leave."""
    from elava.events import Resource
    from streams.pages import json_form

    answer = {"when": datetime(2025, 1, 1, 12, 0), "blob": b"\x00\x01", "ids": {3, 1}, "size": Decimal("1.5"),
              "pair": ("a", 1), "nested": [{"at": datetime(2025, 1, 2), "n": Decimal("2")}], 7: "numeric key"}
    resource = Resource(uid="arn:aws:ec2:us-east-1:123456789012:volume/vol-1", type="ec2.volume", id="vol-1",
                        account="123456789012", region="us-east-1", attributes=to_json_safe(answer))
    assert json_form(resource) == resource.model_dump(mode="json")


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
