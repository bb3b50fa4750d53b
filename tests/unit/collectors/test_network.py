"""Network family beyond security groups: VPCs, subnets, NAT gateways, elastic IPs, load balancers."""

from __future__ import annotations

from datetime import timedelta

from elava.catalogue import registry
from tests.unit.collectors.covers import covers
from tests.unit.streams.analyzers.waste_estate import T0

ACCOUNT = "123456789012"


def _tags(kind: str, **tags: str) -> list[dict]:
    return [{"ResourceType": kind, "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]


def _network(ec2) -> tuple[str, list[str]]:
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16", TagSpecifications=_tags("vpc", Name="main"))["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{zone}")
               ["Subnet"]["SubnetId"] for i, zone in enumerate("ab")]
    return vpc, subnets


@covers("ec2.vpc")
async def test_vpc(scan, boto):
    ec2 = boto("ec2")
    vpc, _ = _network(ec2)
    ec2.associate_vpc_cidr_block(VpcId=vpc, CidrBlock="10.1.0.0/16")

    run = await scan([registry.get("ec2.vpc")])

    vpcs = {r.id: r for r in run.resources("ec2.vpc")}
    main = vpcs[vpc]
    assert main.uid == f"arn:aws:ec2:us-east-1:{ACCOUNT}:vpc/{vpc}"
    assert (main.type, main.name, main.tags) == ("ec2.vpc", "main", {"Name": "main"})
    assert (main.attributes["cidr_block"], main.attributes["cidr_blocks"]) == (
        "10.0.0.0/16", ["10.0.0.0/16", "10.1.0.0/16"])
    assert (main.attributes["is_default"], main.attributes["state"]) == (False, "available")
    assert any(r.attributes["is_default"] for r in vpcs.values())  # moto, like AWS, has a default VPC
    assert run.report.calls_by_type() == {"ec2.vpc": 1}


@covers("ec2.subnet")
async def test_subnet(scan, boto):
    ec2 = boto("ec2")
    vpc, (public, private) = _network(ec2)
    ec2.modify_subnet_attribute(SubnetId=public, MapPublicIpOnLaunch={"Value": True})
    ec2.create_tags(Resources=[public], Tags=[{"Key": "Name", "Value": "public-a"}])

    run = await scan([registry.get("ec2.subnet")])

    subnets = {r.id: r for r in run.resources("ec2.subnet")}
    subnet = subnets[public]
    assert subnet.uid == f"arn:aws:ec2:us-east-1:{ACCOUNT}:subnet/{public}"
    assert (subnet.type, subnet.name, subnet.tags) == ("ec2.subnet", "public-a", {"Name": "public-a"})
    attributes = subnet.attributes
    assert (attributes["vpc_id"], attributes["cidr_block"], attributes["availability_zone"]) == (
        vpc, "10.0.0.0/24", "us-east-1a")
    assert (attributes["map_public_ip_on_launch"], subnets[private].attributes["map_public_ip_on_launch"]) == (
        True, False)
    assert "available_ip_address_count" not in attributes  # moves with every instance: not a change
    assert run.report.calls_by_type() == {"ec2.subnet": 1}


@covers("ec2.nat-gateway")
async def test_nat_gateway(scan, boto):
    ec2 = boto("ec2")
    vpc, (subnet, _) = _network(ec2)
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=allocation,
                                 TagSpecifications=_tags("natgateway", Name="egress"))["NatGateway"]["NatGatewayId"]
    gone = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=ec2.allocate_address(Domain="vpc")["AllocationId"])
    ec2.delete_nat_gateway(NatGatewayId=gone["NatGateway"]["NatGatewayId"])

    run = await scan([registry.get("ec2.nat-gateway")])

    [gateway] = run.resources("ec2.nat-gateway")  # the deleted one is listed by AWS, absent for us
    assert gateway.uid == f"arn:aws:ec2:us-east-1:{ACCOUNT}:natgateway/{nat}"
    assert (gateway.type, gateway.id, gateway.name, gateway.tags) == (
        "ec2.nat-gateway", nat, "egress", {"Name": "egress"})
    attributes = gateway.attributes
    assert (attributes["state"], attributes["vpc_id"], attributes["subnet_id"]) == ("available", vpc, subnet)
    [address] = attributes["addresses"]
    assert address["allocation_id"] == allocation and address["public_ip"]
    assert run.report.calls_by_type() == {"ec2.nat-gateway": 1}


@covers("ec2.elastic-ip")
async def test_elastic_ips_say_whether_they_are_associated(scan, boto, ami):
    ec2 = boto("ec2")
    instance = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    used = ec2.allocate_address(Domain="vpc", TagSpecifications=_tags("elastic-ip", Name="web"))["AllocationId"]
    ec2.associate_address(AllocationId=used, InstanceId=instance)
    idle = ec2.allocate_address(Domain="vpc")["AllocationId"]

    run = await scan([registry.get("ec2.elastic-ip")])

    addresses = {r.id: r for r in run.resources("ec2.elastic-ip")}
    assert set(addresses) == {used, idle}
    web = addresses[used]
    assert web.uid == f"arn:aws:ec2:us-east-1:{ACCOUNT}:elastic-ip/{used}"
    assert (web.type, web.name, web.tags) == ("ec2.elastic-ip", "web", {"Name": "web"})
    assert (web.attributes["associated"], web.attributes["instance_id"], web.attributes["domain"]) == (
        True, instance, "vpc")
    unused = addresses[idle].attributes
    assert (unused["associated"], unused["instance_id"]) == (False, None) and unused["public_ip"]
    assert run.report.calls_by_type() == {"ec2.elastic-ip": 1}


def _load_balancer(elbv2, name: str, subnets: list[str], **kwargs) -> str:
    return elbv2.create_load_balancer(Name=name, Subnets=subnets, **kwargs)["LoadBalancers"][0]["LoadBalancerArn"]


@covers("elbv2.load-balancer")
async def test_load_balancers_with_batched_tags_and_their_listeners(scan, boto):
    _, subnets = _network(boto("ec2"))
    elbv2 = boto("elbv2")
    web = _load_balancer(elbv2, "web", subnets, Scheme="internet-facing", Tags=[{"Key": "team", "Value": "web"}])
    elbv2.create_listener(LoadBalancerArn=web, Protocol="HTTP", Port=80, DefaultActions=[{
        "Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}])
    elbv2.create_listener(LoadBalancerArn=web, Protocol="HTTP", Port=8080, DefaultActions=[{
        "Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}])
    for i in range(20):  # 21 balancers: two describe_tags calls
        _load_balancer(elbv2, f"internal-{i:02}", subnets, Scheme="internal")

    run = await scan([registry.get("elbv2.load-balancer")])

    balancers = {r.name: r for r in run.resources("elbv2.load-balancer")}
    assert len(balancers) == 21
    balancer = balancers["web"]
    assert balancer.uid == web
    assert balancer.id == "app/web/" + web.rsplit("/", 1)[1]  # as CloudWatch names it
    assert (balancer.type, balancer.tags) == ("elbv2.load-balancer", {"team": "web"})
    attributes = balancer.attributes
    assert (attributes["type"], attributes["scheme"], attributes["subnets"]) == (
        "application", "internet-facing", sorted(subnets))
    assert attributes["listeners"] == [
        {"port": 80, "protocol": "HTTP", "ssl_policy": None, "default_actions": ["redirect"]},
        {"port": 8080, "protocol": "HTTP", "ssl_policy": None, "default_actions": ["fixed-response"]}]
    assert balancers["internal-00"].attributes["scheme"] == "internal"
    assert balancers["internal-00"].tags == {}
    assert attributes["target_health"] == {"groups": [], "targets": 0, "healthy": 0}
    # list; tags 20 balancers a call; listeners and target groups per balancer (none has a group)
    assert run.report.calls_by_type() == {"elbv2.load-balancer": 1 + 2 + 21 + 21}


async def test_a_balancer_with_no_healthy_target_is_waste_until_a_running_instance_is_registered(scan, boto, ami):
    from tests.unit.streams.analyzers.waste_estate import Estate

    ec2 = boto("ec2")
    vpc, subnets = _network(ec2)
    elbv2 = boto("elbv2")
    web = _load_balancer(elbv2, "web", subnets)
    group = elbv2.create_target_group(Name="web", Protocol="HTTP", Port=80, VpcId=vpc,
                                      TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
    elbv2.create_listener(LoadBalancerArn=web, Protocol="HTTP", Port=80,
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": group}])
    estate, rt = Estate(idle_threshold="0s"), registry.get("elbv2.load-balancer")

    async def findings(at):
        run = await scan([rt])
        return run, [f for f in estate.scan(at, rt.name, run.resources(rt.name)) if f.pattern == "no-healthy-targets"]

    run, [found] = await findings(T0)
    assert (found.status, found.reason) == ("open", "no healthy targets for 0 hours")
    assert found.evidence == {"target_groups": [{"name": "web", "targets": 0, "healthy": 0}], "targets": 0, "healthy": 0}
    assert run.report.calls_by_type() == {rt.name: 1 + 1 + 1 + 1 + 1}  # list, tags, listeners, groups, health
    instance = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, SubnetId=subnets[0])["Instances"][0]["InstanceId"]
    elbv2.register_targets(TargetGroupArn=group, Targets=[{"Id": instance}])
    _, [resolved] = await findings(T0 + timedelta(hours=1))
    assert resolved.status == "resolved"
    health = run.resources(rt.name)[0].attributes["target_health"]
    assert health["groups"][0]["target_type"] == "instance"


@covers("elb.load-balancer")
async def test_classic_load_balancers_with_their_instances_and_batched_tags(scan, boto, ami):
    ec2, elb = boto("ec2"), boto("elb")
    vpc, subnets = _network(ec2)
    group = ec2.create_security_group(GroupName="legacy", Description="legacy web", VpcId=vpc)["GroupId"]
    instance = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, SubnetId=subnets[0])["Instances"][0]["InstanceId"]
    elb.create_load_balancer(LoadBalancerName="legacy", Subnets=[subnets[0]], SecurityGroups=[group],
                             Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 8080}],
                             Tags=[{"Key": "owner", "Value": "web"}])
    elb.register_instances_with_load_balancer(LoadBalancerName="legacy", Instances=[{"InstanceId": instance}])
    for i in range(21):  # 22 balancers: two describe_tags calls of up to 20
        elb.create_load_balancer(LoadBalancerName=f"idle-{i:02}", Subnets=[subnets[1]], Scheme="internal",
                                 Listeners=[{"Protocol": "TCP", "LoadBalancerPort": 443, "InstancePort": 443}])

    run = await scan([registry.get("elb.load-balancer")])

    balancers = {r.id: r for r in run.resources("elb.load-balancer")}
    assert len(balancers) == 22
    legacy = balancers["legacy"]
    assert legacy.uid == f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:loadbalancer/legacy"
    assert (legacy.name, legacy.tags) == ("legacy", {"owner": "web"})
    assert legacy.attributes["scheme"] == "internet-facing"
    assert (legacy.attributes["vpc_id"], legacy.attributes["subnets"]) == (vpc, [subnets[0]])
    assert (legacy.attributes["security_groups"], legacy.attributes["instances"]) == ([group], [instance])
    assert legacy.attributes["listeners"] == [
        {"port": 80, "protocol": "HTTP", "instance_port": 8080, "instance_protocol": "HTTP", "certificate": None}]
    assert balancers["idle-00"].attributes["instances"] == [] and balancers["idle-00"].tags == {}
    assert run.report.calls_by_type() == {"elb.load-balancer": 1 + 2}
