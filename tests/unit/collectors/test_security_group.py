"""ec2.security-group: flat, sorted rules that compare equal whatever AWS's order."""

from __future__ import annotations

from elava.catalogue import registry
from elava.catalogue.network import normalise_rules
from tests.unit.collectors.covers import covers

ACCOUNT = "123456789012"

SSH = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
       "IpRanges": [{"CidrIp": "10.0.0.0/8"}, {"CidrIp": "0.0.0.0/0", "Description": "anyone"}]}
HTTPS_V6 = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}
DNS = {"IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "IpRanges": [{"CidrIp": "10.1.0.0/16"}]}


@covers("ec2.security-group")
async def test_security_group_is_observed_with_flat_sorted_rules(scan, boto):
    ec2 = boto("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    peer = ec2.create_security_group(GroupName="peer", Description="peer", VpcId=vpc)["GroupId"]
    group = ec2.create_security_group(
        GroupName="web", Description="web tier", VpcId=vpc,
        TagSpecifications=[{"ResourceType": "security-group", "Tags": [{"Key": "env", "Value": "prod"}]}],
    )["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        SSH, HTTPS_V6, {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "UserIdGroupPairs": [{"GroupId": peer}]}])

    run = await scan([registry.get("ec2.security-group")])

    web = next(r for r in run.resources("ec2.security-group") if r.id == group)
    assert web.uid == f"arn:aws:ec2:us-east-1:{ACCOUNT}:security-group/{group}"
    assert (web.type, web.name, web.tags) == ("ec2.security-group", "web", {"env": "prod"})
    assert (web.attributes["vpc_id"], web.attributes["description"]) == (vpc, "web tier")
    assert web.attributes["ingress"] == [
        {"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "0.0.0.0/0", "description": "anyone"},
        {"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "10.0.0.0/8"},
        {"protocol": "tcp", "from_port": 443, "to_port": 443, "ipv6_cidr": "::/0"},
        {"protocol": "tcp", "from_port": 8080, "to_port": 8080, "source_group": peer},
    ]
    assert web.attributes["egress"] == [{"protocol": "all", "from_port": None, "to_port": None, "cidr": "0.0.0.0/0"}]
    # moto, like AWS, gives every VPC a default group: observed too.
    assert {r.name for r in run.resources("ec2.security-group")} >= {"web", "peer", "default"}


async def test_equal_rule_sets_authorised_in_different_orders_compare_equal(scan, boto):
    ec2 = boto("ec2")
    first = ec2.create_security_group(GroupName="first", Description="same rules")["GroupId"]
    second = ec2.create_security_group(GroupName="second", Description="same rules")["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=first, IpPermissions=[SSH, HTTPS_V6, DNS])
    for permission in (DNS, HTTPS_V6, {**SSH, "IpRanges": SSH["IpRanges"][::-1]}):
        ec2.authorize_security_group_ingress(GroupId=second, IpPermissions=[permission])

    run = await scan([registry.get("ec2.security-group")])

    rules = {r.id: r.attributes["ingress"] for r in run.resources("ec2.security-group")}
    assert rules[first] == rules[second]
    assert len(rules[first]) == 4


def test_rule_normalisation_ignores_order_and_aws_protocol_spellings():
    as_listed = [SSH, {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
                 {"IpProtocol": "6", "FromPort": 5432, "ToPort": 5432, "PrefixListIds": [{"PrefixListId": "pl-1"}]}]
    reordered = [{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "PrefixListIds": [{"PrefixListId": "pl-1"}]},
                 {**SSH, "IpRanges": SSH["IpRanges"][::-1]},
                 {"IpProtocol": "-1", "FromPort": -1, "ToPort": -1, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]

    assert normalise_rules(as_listed) == normalise_rules(reordered)
    assert normalise_rules(as_listed)[0] == {"protocol": "all", "from_port": None, "to_port": None, "cidr": "10.0.0.0/8"}
    assert {"protocol": "tcp", "from_port": 5432, "to_port": 5432, "prefix_list": "pl-1"} in normalise_rules(as_listed)


def test_groups_of_other_accounts_are_named_with_their_account():
    permission = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                  "UserIdGroupPairs": [{"GroupId": "sg-own", "UserId": ACCOUNT},
                                       {"GroupId": "sg-theirs", "UserId": "999999999999"}]}

    targets = [rule["source_group"] for rule in normalise_rules([permission], owner=ACCOUNT)]

    assert targets == ["999999999999/sg-theirs", "sg-own"]
