"""Edges declared on types, resolved to the uids the collectors give their targets."""

from __future__ import annotations

import re

import pytest

from elava.catalogue import registry
from elava.catalogue.exceptions import InvalidResourceType, UnknownResourceType
from elava.catalogue.relations import Edge, edges_of

A, EU = "111122223333", "eu-west-1"


def of(type_name: str, **attributes) -> dict:
    return {"type": type_name, "account": A, "region": EU, "attributes": attributes}


def test_ids_become_uids_in_the_resources_own_account_and_region():
    edges = edges_of(of("ec2.instance", subnet_id="subnet-1", security_groups=["sg-2", "sg-1"], volumes=[],
                        image_id="ami-1"))
    assert edges == {"subnet": [f"arn:aws:ec2:{EU}:{A}:subnet/subnet-1"],
                     "security-groups": [f"arn:aws:ec2:{EU}:{A}:security-group/sg-1",
                                         f"arn:aws:ec2:{EU}:{A}:security-group/sg-2"],
                     "image": [f"arn:aws:ec2:{EU}::image/ami-1"]}  # AMI ARNs have no account


def test_arns_are_read_as_their_types_read_them():
    function = of("lambda.function", role=f"arn:aws:iam::{A}:role/service/orders-role",
                  dead_letter_target=f"arn:aws:sns:{EU}:{A}:alerts",  # a topic: not a queue, no edge
                  kms_key_arn=f"arn:aws:kms:{EU}:{A}:key/1234abcd", layers=[f"arn:aws:lambda:{EU}:{A}:layer:x:3"])
    assert edges_of(function) == {
        "role": [f"arn:aws:iam::{A}:role/service/orders-role"],  # the path kept, as the collector keeps it
        "kms-key": [f"arn:aws:kms:{EU}:{A}:key/1234abcd"],
        "layers": [f"arn:aws:lambda:{EU}:{A}:layer:x:3"]}  # not collected: the ARN as found


def test_what_is_no_id_of_the_target_type_gives_no_edge():
    assert edges_of(of("sqs.queue", kms_key="alias/aws/sqs")) == {}
    assert edges_of(of("s3.bucket", encryption={"kms_key_id": "alias/data"})) == {}
    assert edges_of(of("ec2.instance", iam_instance_profile="web")) == {}  # untyped: an ARN or nothing
    cross_account = [{"protocol": "tcp", "source_group": "444455556666/sg-9"}, {"protocol": "tcp", "source_group": "sg-3"}]
    assert edges_of(of("ec2.security-group", ingress=cross_account)) == {
        "source-groups": [f"arn:aws:ec2:{EU}:{A}:security-group/sg-3"]}


def test_ids_the_service_keeps_lower_case_are_lower_cased():
    assert edges_of(of("rds.instance", cluster="Orders-Aurora")) == {"cluster": [f"arn:aws:rds:{EU}:{A}:cluster:orders-aurora"]}


def test_nothing_for_an_unknown_type_or_a_tombstone():
    assert edges_of({"type": "nope.nothing", "attributes": {"subnet_id": "subnet-1"}}) == {}
    assert edges_of(None) == {}


def test_edges_point_at_registered_types_and_have_unique_names():
    names = {rt.name for rt in registry.all_types()}
    for rt in registry.all_types():
        for edge in rt.edges:
            assert edge.target is None or edge.target in names, (rt.name, edge)


def test_a_bad_edge_is_refused_where_it_is_declared():
    with pytest.raises(InvalidResourceType, match="name"):
        Edge("Subnet", "ec2.subnet", "subnet_id")
    with pytest.raises(InvalidResourceType, match="bad path"):
        Edge("subnet", "ec2.subnet", "subnet_id[")


def edge_roots(type_name: str) -> list[tuple[str, str]]:
    """(edge, the attribute its path starts from) of a registered type (a test's own type has none)."""
    try:
        edges = registry.get(type_name).edges
    except UnknownResourceType:
        return []
    return [(edge.name, re.match(r"[A-Za-z_]+", edge.path).group(0)) for edge in edges]
