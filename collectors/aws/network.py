"""Network family: security groups.

AWS nests rules (one permission, many CIDRs/groups/prefix lists) and returns them in
no promised order. Here every (permission, target) pair becomes one flat rule and the
list is sorted, so two equal rule sets compare equal however AWS ordered them, and a
diff names exactly the rule that was added or removed.
"""

from __future__ import annotations

from typing import Any

from collectors.aws.registry import register
from collectors.aws.types import ResourceType

# IP protocol numbers AWS may echo back instead of names; "-1" means every protocol.
_PROTOCOL_NAMES = {"-1": "all", "1": "icmp", "6": "tcp", "17": "udp", "58": "icmpv6"}

# (field in the permission, key inside each entry, key in our flat rule)
_TARGETS = (
    ("IpRanges", "CidrIp", "cidr"),
    ("Ipv6Ranges", "CidrIpv6", "ipv6_cidr"),
    ("PrefixListIds", "PrefixListId", "prefix_list"),
)


def _protocol(permission: dict[str, Any]) -> str:
    raw = str(permission.get("IpProtocol", "-1")).lower()
    return _PROTOCOL_NAMES.get(raw, raw)


def _base_rule(permission: dict[str, Any]) -> dict[str, Any]:
    protocol = _protocol(permission)
    every_port = protocol == "all"  # AWS omits ports (or says -1) for "all traffic"
    return {
        "protocol": protocol,
        "from_port": None if every_port else permission.get("FromPort"),
        "to_port": None if every_port else permission.get("ToPort"),
    }


def _with_target(base: dict[str, Any], key: str, value: str, entry: dict[str, Any]) -> dict[str, Any]:
    rule = {**base, key: value}
    if entry.get("Description"):
        rule["description"] = entry["Description"]
    return rule


def _source_group(pair: dict[str, Any], owner: str | None) -> str:
    group = pair.get("GroupId") or pair.get("GroupName") or ""
    user = pair.get("UserId")
    # A group of another account (peering, shared VPC) is named with its account.
    return f"{user}/{group}" if user and owner and user != owner else group


def flatten_permission(permission: dict[str, Any], owner: str | None) -> list[dict[str, Any]]:
    base = _base_rule(permission)
    rules = [
        _with_target(base, key, entry[field_key], entry)
        for field, field_key, key in _TARGETS
        for entry in permission.get(field) or []
        if entry.get(field_key)
    ]
    rules += [
        _with_target(base, "source_group", _source_group(pair, owner), pair)
        for pair in permission.get("UserIdGroupPairs") or []
    ]
    return rules


def _rule_sort_key(rule: dict[str, Any]) -> tuple:
    ports = tuple(-2 if rule[p] is None else rule[p] for p in ("from_port", "to_port"))
    target = next((k, v) for k, v in rule.items() if k not in ("protocol", "from_port", "to_port", "description"))
    return (rule["protocol"], *ports, *target, rule.get("description", ""))


def normalise_rules(permissions: list[dict[str, Any]] | None, owner: str | None = None) -> list[dict[str, Any]]:
    """Flat, de-duplicated, sorted rules: ``{"protocol", "from_port", "to_port", <target>}``.

    The target is one of ``cidr``, ``ipv6_cidr``, ``prefix_list``, ``source_group``;
    ``description`` is added when the rule has one (changing it is a change).
    """
    rules = [rule for permission in permissions or [] for rule in flatten_permission(permission, owner)]
    unique = {tuple(sorted(rule.items(), key=lambda kv: kv[0])): rule for rule in rules}
    return sorted(unique.values(), key=_rule_sort_key)


def normalise_security_group(attributes: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    owner = raw.get("OwnerId")
    return {
        **attributes,
        "ingress": normalise_rules(raw.get("IpPermissions"), owner),
        "egress": normalise_rules(raw.get("IpPermissionsEgress"), owner),
    }


EC2_SECURITY_GROUP = register(
    ResourceType(
        name="ec2.security-group",
        service="ec2",
        list_operation="describe_security_groups",
        list_params={"MaxResults": 1000},
        result_path="SecurityGroups",
        id_field="GroupId",
        name_field="GroupName",
        arn_field="SecurityGroupArn",
        arn_template="arn:{partition}:ec2:{region}:{account}:security-group/{id}",
        tags_from="inline:Tags",
        attributes={
            "group_name": "GroupName",
            "description": "Description",
            "vpc_id": "VpcId",
            "owner_id": "OwnerId",
        },
        transform=normalise_security_group,
    )
)
