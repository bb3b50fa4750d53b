"""Network family: security groups, VPCs, subnets, NAT gateways, elastic IPs, load balancers (ELBv2 and classic).

Waste detection reads its facts here: an elastic IP associated with nothing, a NAT
gateway (idle is a traffic question, for CloudWatch, later), a load balancer whose
listeners lead nowhere. Public exposure too: internet-facing load balancers and their
plain-HTTP listeners, subnets that give instances public IPs.

Security groups: AWS nests rules (one permission, many CIDRs/groups/prefix lists) and returns them in
no promised order. Here every (permission, target) pair becomes one flat rule and the
list is sorted, so two equal rule sets compare equal however AWS ordered them, and a
diff names exactly the rule that was added or removed.
"""

from __future__ import annotations

from typing import Any

from elava.catalogue.arns import ArnMatch
from elava.catalogue.registry import register, register_family
from elava.catalogue.relations import uses
from elava.catalogue.trail import Custom, IdPrefixed, TrailCall, arns, family, ids
from elava.catalogue.types import Batch, DetailCall, Lifecycle, Lookup, ResourceType
from elava.catalogue.usage import Metric, Usage
from elava.events import TouchedResource

EC2, ELB = "ec2.amazonaws.com", "elasticloadbalancing.amazonaws.com"

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
        lookup=Lookup("GroupIds", gone_errors=frozenset({"InvalidGroup.NotFound", "InvalidGroupId.Malformed"})),
        name_field="GroupName",
        arn_field="SecurityGroupArn",
        arn_template="arn:{partition}:ec2:{region}:{account}:security-group/{id}",
        id_prefix="sg",
        tags_from="inline:Tags",
        attributes={
            "group_name": "GroupName",
            "description": "Description",
            "vpc_id": "VpcId",
            "owner_id": "OwnerId",
        },
        transform=normalise_security_group,
        edges=(
            uses("vpc", "ec2.vpc", "vpc_id"),
            uses("source-groups", "ec2.security-group", "ingress[?source_group && !contains(source_group, '/')].source_group"),
        ),
        trail=(
            family("Security groups", EC2,
                   "CreateSecurityGroup DeleteSecurityGroup AuthorizeSecurityGroupIngress AuthorizeSecurityGroupEgress "
                   "RevokeSecurityGroupIngress RevokeSecurityGroupEgress ModifySecurityGroupRules "
                   "UpdateSecurityGroupRuleDescriptionsIngress UpdateSecurityGroupRuleDescriptionsEgress",
                   ids("response.groupId", "request.groupId", "response.securityGroupRuleSet/groupId"),
                   where="groupId (also inside ModifySecurityGroupRulesRequest)"),
        ),
    )
)


EC2_VPC = register(
    ResourceType(
        name="ec2.vpc",
        lifecycle=Lifecycle("state", settling=("pending",)),
        service="ec2",
        list_operation="describe_vpcs",
        list_params={"MaxResults": 1000},
        result_path="Vpcs",
        id_field="VpcId",
        lookup=Lookup("VpcIds", gone_errors=frozenset({"InvalidVpcID.NotFound", "InvalidVpcID.Malformed"})),
        arn_template="arn:{partition}:ec2:{region}:{account}:vpc/{id}",
        id_prefix="vpc",
        tags_from="inline:Tags",
        attributes={
            "state": "State",
            "cidr_block": "CidrBlock",
            "cidr_blocks": "sort(CidrBlockAssociationSet[?CidrBlockState.State=='associated'].CidrBlock || `[]`)",
            "ipv6_cidr_blocks": "sort(Ipv6CidrBlockAssociationSet[?Ipv6CidrBlockState.State=='associated']"
                                ".Ipv6CidrBlock || `[]`)",
            "is_default": "IsDefault",
            "instance_tenancy": "InstanceTenancy",
            "dhcp_options_id": "DhcpOptionsId",
            "owner_id": "OwnerId",
        },
        trail=(
            family("VPCs", EC2, "CreateVpc DeleteVpc ModifyVpcAttribute ModifyVpcTenancy AssociateVpcCidrBlock",
                   ids("response.vpc.vpcId", "request.vpcId"), where="responseElements.vpc.vpcId, vpcId"),
        ),
    )
)

EC2_SUBNET = register(
    ResourceType(
        name="ec2.subnet",
        lifecycle=Lifecycle("state", settling=("pending",)),
        service="ec2",
        list_operation="describe_subnets",
        list_params={"MaxResults": 1000},
        result_path="Subnets",
        id_field="SubnetId",
        lookup=Lookup("SubnetIds", gone_errors=frozenset({"InvalidSubnetID.NotFound", "InvalidSubnetID.Malformed"})),
        arn_field="SubnetArn",
        arn_template="arn:{partition}:ec2:{region}:{account}:subnet/{id}",
        id_prefix="subnet",
        tags_from="inline:Tags",
        attributes={  # not AvailableIpAddressCount: it moves with every instance started
            "state": "State",
            "vpc_id": "VpcId",
            "cidr_block": "CidrBlock",
            "ipv6_cidr_blocks": "sort(Ipv6CidrBlockAssociationSet[].Ipv6CidrBlock || `[]`)",
            "availability_zone": "AvailabilityZone",
            "availability_zone_id": "AvailabilityZoneId",
            "map_public_ip_on_launch": "MapPublicIpOnLaunch",
            "assign_ipv6_on_creation": "AssignIpv6AddressOnCreation",
            "default_for_az": "DefaultForAz",
            "owner_id": "OwnerId",
        },
        edges=(
            uses("vpc", "ec2.vpc", "vpc_id"),
        ),
        trail=(
            family("Subnets", EC2, "CreateSubnet DeleteSubnet ModifySubnetAttribute",
                   ids("response.subnet.subnetId", "request.subnetId"),
                   where="responseElements.subnet.subnetId, subnetId"),
        ),
    )
)


def nat_gateway_is_gone(item: dict[str, Any]) -> bool:
    return item.get("State") == "deleted"  # listed for about an hour after deletion


NAT_ADDRESSES = ("sort_by(NatGatewayAddresses || `[]`, &to_string(AllocationId || PrivateIp))[]"
                 ".{allocation_id: AllocationId, public_ip: PublicIp, private_ip: PrivateIp,"
                 " network_interface_id: NetworkInterfaceId}")

EC2_NAT_GATEWAY = register(
    ResourceType(
        name="ec2.nat-gateway",
        lifecycle=Lifecycle("state", settling=("pending", "deleting")),
        service="ec2",
        list_operation="describe_nat_gateways",
        list_params={"MaxResults": 1000},
        result_path="NatGateways",
        id_field="NatGatewayId",
        arn_template="arn:{partition}:ec2:{region}:{account}:natgateway/{id}",
        id_prefix="nat",
        tags_from="inline:Tags",
        absent_when=nat_gateway_is_gone,
        attributes={
            "state": "State",
            "connectivity_type": "ConnectivityType",
            "vpc_id": "VpcId",
            "subnet_id": "SubnetId",
            "addresses": NAT_ADDRESSES,
            "create_time": "CreateTime",
        },
        edges=(
            uses("subnet", "ec2.subnet", "subnet_id"),
            uses("vpc", "ec2.vpc", "vpc_id"),
            uses("elastic-ips", "ec2.elastic-ip", "addresses[].allocation_id"),
        ),
        usage=Usage(
            # Published every minute, zero included: no datapoints means the metric is missing.
            metrics=(Metric("bytes_out", "AWS/NATGateway", "BytesOutToDestination", "Sum",
                            {"NatGatewayId": "id"}, "bytes"),
                     Metric("bytes_in", "AWS/NATGateway", "BytesInFromSource", "Sum",
                            {"NatGatewayId": "id"}, "bytes")),
            units={"nat_gateways": "`1`", "connectivity_type": "attributes.connectivity_type"},
            created="attributes.create_time",
        ),
        trail=(
            family("NAT gateways", EC2, "CreateNatGateway DeleteNatGateway",
                   ids("response.natGateway.natGatewayId", "request.natGatewayId"),
                   where="natGatewayId (inside the *Request/*Response wrappers)"),
        ),
    )
)


_ALLOCATION_PATHS = ("response.allocationId", "request.allocationId")


def addresses_named(call: TrailCall, type_name: str) -> list[TouchedResource]:
    """The collector's id is the allocation id, or the public IP for an EC2-Classic address."""
    allocations = call.ids(*_ALLOCATION_PATHS)
    public_ips = [] if allocations else call.ids("request.publicIp", "response.publicIp")
    return [call.make(type_name, rid) for rid in allocations + public_ips]

EC2_ELASTIC_IP = register(
    ResourceType(
        name="ec2.elastic-ip",
        service="ec2",
        list_operation="describe_addresses",  # not paged: an account holds a handful
        result_path="Addresses",
        id_field="AllocationId || PublicIp",
        arn_template="arn:{partition}:ec2:{region}:{account}:elastic-ip/{id}",
        id_prefix="eipalloc",
        tags_from="inline:Tags",
        attributes={
            "public_ip": "PublicIp",
            "domain": "Domain",
            "associated": "AssociationId != `null`",  # false: paid for, used by nothing
            "association_id": "AssociationId",
            "instance_id": "InstanceId || `null`",
            "network_interface_id": "NetworkInterfaceId || `null`",
            "private_ip": "PrivateIpAddress || `null`",
            "network_border_group": "NetworkBorderGroup",
            "public_ipv4_pool": "PublicIpv4Pool",
        },
        edges=(
            uses("instance", "ec2.instance", "instance_id"),
        ),
        usage=Usage(units={"public_ipv4_addresses": "`1`", "domain": "attributes.domain"}),
        trail=(
            family("Elastic IPs", EC2, "AllocateAddress ReleaseAddress AssociateAddress DisassociateAddress",
                   Custom(addresses_named, _ALLOCATION_PATHS), ids("request.instanceId", type="ec2.instance"),
                   where="allocationId (else publicIp); instanceId when associating"),
        ),
    )
)


_ENCRYPTED_PROTOCOLS = frozenset({"HTTPS", "TLS"})


def _listener(listener: dict[str, Any]) -> dict[str, Any]:
    protocol = listener.get("Protocol")
    return {
        "port": listener.get("Port"),
        "protocol": protocol,
        # A TLS policy means something on HTTPS/TLS listeners only (moto sets one on all).
        "ssl_policy": listener.get("SslPolicy") if protocol in _ENCRYPTED_PROTOCOLS else None,
        "default_actions": sorted(action.get("Type") for action in listener.get("DefaultActions") or []),
    }


def _target_group(group: dict[str, Any]) -> dict[str, Any]:
    states = [(entry.get("TargetHealth") or {}).get("State") for entry in group.get("Health") or []]
    return {"name": group.get("TargetGroupName"), "target_type": group.get("TargetType"),
            "targets": len(states), "healthy": states.count("healthy")}


def target_health(groups: list[dict[str, Any]]) -> dict[str, Any]:
    """Targets and healthy targets, per target group and in all (the no-healthy-targets rule)."""
    shaped = sorted((_target_group(group) for group in groups), key=lambda group: group["name"] or "")
    return {"groups": shaped, "targets": sum(g["targets"] for g in shaped),
            "healthy": sum(g["healthy"] for g in shaped)}


def normalise_load_balancer(attributes: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    listeners = sorted((_listener(listener) for listener in raw.get("Listeners") or []),
                       key=lambda listener: (listener["port"] or 0, listener["protocol"] or ""))
    return {**attributes, "listeners": listeners, "target_health": target_health(attributes.get("target_health") or [])}


ELBV2_LOAD_BALANCER = register(
    ResourceType(
        name="elbv2.load-balancer",
        lifecycle=Lifecycle("state", settling=("provisioning",)),
        service="elbv2",
        list_operation="describe_load_balancers",
        list_params={"PageSize": 400},
        result_path="LoadBalancers",
        # "app/<name>/<hash>", as CloudWatch names it: a re-created balancer keeps its
        # name, not its ARN.
        id_field="join('/', split(LoadBalancerArn, '/')[1:])",
        name_field="LoadBalancerName",
        arn_field="LoadBalancerArn",
        arn_template="arn:{partition}:elasticloadbalancing:{region}:{account}:loadbalancer/{id}",
        # A listener's ARN names its load balancer: "listener/app/<name>/<lb>/<listener>".
        arn_match=ArnMatch("elasticloadbalancing", r"^(loadbalancer|listener)/(?P<id>(app|net|gwy)/[^/]+/[^/]+)(/[^/]+)?$"),
        # Tags for 20 balancers a call; one gone since the listing makes the call fail,
        # and is then found absent when asked alone.
        describe=DetailCall("describe_tags", {"ResourceArns": "LoadBalancerArn"}, "Tags",
                            result_path="TagDescriptions", batch=Batch("ResourceArns", 20, match="ResourceArn",
                                                                       value="Tags || `[]`"),
                            none_errors=frozenset({"LoadBalancerNotFound"})),
        tags_from="detail:Tags",
        details=(
            DetailCall("describe_listeners", {"LoadBalancerArn": "LoadBalancerArn"}, "Listeners",
                       result_path="Listeners", paged=True),
            # Its target groups (one paged call), then each group's targets and their health (one
            # call a group: no batch form exists). CloudWatch's HealthyHostCount would cost as
            # much (it is per target group too), lags by minutes and is not in moto.
            DetailCall("describe_target_groups", {"LoadBalancerArn": "LoadBalancerArn"}, "TargetGroups",
                       # A balancer without groups may answer TargetGroupNotFound (moto does) rather than [].
                       result_path="TargetGroups", paged=True, default=[],
                       none_errors=frozenset({"LoadBalancerNotFound", "TargetGroupNotFound"}), each=DetailCall(
                           "describe_target_health", {"TargetGroupArn": "Each.TargetGroupArn"}, "Health",
                           result_path="TargetHealthDescriptions", keep_element=True,
                           none_errors=frozenset({"TargetGroupNotFound"}),
                           volatile=True)),  # health moves with the targets, never in CloudTrail
        ),
        # Targets come and go (Auto Scaling, deployments) and their health moves with them.
        churn={"target_health": "targets are registered by Auto Scaling and deployments, and their health "
                                "moves with the application, not with the balancer's configuration"},
        attributes={
            "type": "Type",
            "scheme": "Scheme",  # internet-facing: reachable from anywhere the listeners allow
            "state": "State.Code",
            "dns_name": "DNSName",
            "vpc_id": "VpcId",
            "availability_zones": "sort(AvailabilityZones[].ZoneName || `[]`)",
            "subnets": "sort(AvailabilityZones[].SubnetId || `[]`)",
            "security_groups": "sort(SecurityGroups || `[]`)",
            "ip_address_type": "IpAddressType",
            "created_time": "CreatedTime",
            "target_health": "TargetGroups",  # shaped by normalise_load_balancer: targets, healthy
        },
        transform=normalise_load_balancer,
        edges=(
            uses("subnets", "ec2.subnet", "subnets"),
            uses("security-groups", "ec2.security-group", "security_groups"),
            uses("vpc", "ec2.vpc", "vpc_id"),
        ),
        usage=Usage(
            # ELB publishes requests and new flows only for periods that had some.
            metrics=(Metric("requests", "AWS/ApplicationELB", "RequestCount", "Sum", {"LoadBalancer": "id"},
                            "requests", absent_is_zero=True, when={"attributes.type": "application"}),
                     Metric("new_flows", "AWS/NetworkELB", "NewFlowCount", "Sum", {"LoadBalancer": "id"},
                            "flows", absent_is_zero=True, when={"attributes.type": "network"})),
            units={"load_balancers": "`1`", "lb_type": "attributes.type", "scheme": "attributes.scheme"},
            created="attributes.created_time",
        ),
        trail=(
            family("ELBv2 load balancers", ELB,
                   "CreateLoadBalancer DeleteLoadBalancer ModifyLoadBalancerAttributes SetSecurityGroups SetSubnets "
                   "SetIpAddressType AddTags RemoveTags",
                   arns("response.loadBalancers/loadBalancerArn", "request.loadBalancerArn", "request.resourceArns"),
                   # The same calls of the classic API name a classic load balancer by name.
                   ids("request.loadBalancerName", "request.loadBalancerNames", type="elb.load-balancer"),
                   where="loadBalancers[].loadBalancerArn, loadBalancerArn, resourceArns (load balancers only); "
                         "loadBalancerName(s) of a classic one"),
            family("ELBv2 listeners", ELB, "CreateListener ModifyListener DeleteListener",
                   arns("request.loadBalancerArn", "request.listenerArn", "response.listeners/listenerArn"),
                   where="loadBalancerArn, or the load balancer in listenerArn"),
        ),
    )
)


# --- Classic load balancers ---------------------------------------------------------------

CLASSIC_LISTENERS = ("sort_by(ListenerDescriptions[].Listener || `[]`, &LoadBalancerPort)[]"
                     ".{port: LoadBalancerPort, protocol: Protocol, instance_port: InstancePort,"
                     " instance_protocol: InstanceProtocol, certificate: SSLCertificateId}")

ELB_LOAD_BALANCER = register(
    ResourceType(
        name="elb.load-balancer",
        service="elb",
        list_operation="describe_load_balancers",
        list_params={"PageSize": 400},
        result_path="LoadBalancerDescriptions",
        id_field="LoadBalancerName",  # unique per account and region
        name_field="LoadBalancerName",
        lookup=Lookup("LoadBalancerNames", gone_errors=frozenset({"LoadBalancerNotFound"})),
        arn_template="arn:{partition}:elasticloadbalancing:{region}:{account}:loadbalancer/{id}",
        # Tags for 20 balancers a call, as for ELBv2 (one gone since the listing: asked alone).
        describe=DetailCall("describe_tags", {"LoadBalancerNames": "LoadBalancerName"}, "Tags",
                            result_path="TagDescriptions", batch=Batch("LoadBalancerNames", 20, match="LoadBalancerName",
                                                                       value="Tags || `[]`"),
                            none_errors=frozenset({"LoadBalancerNotFound"})),
        tags_from="detail:Tags",
        attributes={
            "scheme": "Scheme",  # internet-facing: reachable from anywhere the listeners allow
            "dns_name": "DNSName",
            "vpc_id": "VPCId",
            "availability_zones": "sort(AvailabilityZones || `[]`)",
            "subnets": "sort(Subnets || `[]`)",
            "security_groups": "sort(SecurityGroups || `[]`)",
            "instances": "sort(Instances[].InstanceId || `[]`)",  # none: paid for, serving nothing
            "listeners": CLASSIC_LISTENERS,
            "health_check": "HealthCheck.Target",
            "created_time": "CreatedTime",
        },
        edges=(
            uses("subnets", "ec2.subnet", "subnets"),
            uses("security-groups", "ec2.security-group", "security_groups"),
            uses("vpc", "ec2.vpc", "vpc_id"),
            uses("instances", "ec2.instance", "instances"),
        ),
        trail=(
            # CreateLoadBalancer, DeleteLoadBalancer and tags share their names with ELBv2: read there.
            family("Classic load balancers", ELB,
                   "ConfigureHealthCheck RegisterInstancesWithLoadBalancer DeregisterInstancesWithLoadBalancer "
                   "CreateLoadBalancerListeners DeleteLoadBalancerListeners ApplySecurityGroupsToLoadBalancer "
                   "AttachLoadBalancerToSubnets DetachLoadBalancerFromSubnets EnableAvailabilityZonesForLoadBalancer "
                   "DisableAvailabilityZonesForLoadBalancer SetLoadBalancerListenerSSLCertificate "
                   "SetLoadBalancerPoliciesOfListener CreateLoadBalancerPolicy",
                   ids("request.loadBalancerName"), where="loadBalancerName"),
        ),
    )
)


# EC2 ids say their type ("i-0abc" is an instance): CreateTags names any of them.
register_family(family("EC2 tags", EC2, "CreateTags DeleteTags", IdPrefixed(("request.resourcesSet/resourceId",)),
                       where="requestParameters.resourcesSet.items[].resourceId, typed by prefix"))
