"""Resource uids exactly as the collectors make them (`collectors/aws/*.py`).

A collector takes a resource's ARN from the API where AWS returns one and formats
its type's ``arn_template`` otherwise; the formats below are those, and a unit test
holds them byte-identical to the registry. Where the collector keeps an ARN that a
CloudTrail record cannot rebuild from a name (auto scaling groups carry a UUID; IAM
roles carry their path), the record's own ARNs are used when it has them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from elava.events import TouchedResource
from elava.sharding import GLOBAL_REGION

# Partitions by region prefix, as collectors.aws.normalize has them (a test keeps them equal).
_PARTITION_PREFIXES = (("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"), ("us-isob-", "aws-iso-b"),
                       ("us-iso-", "aws-iso"), ("eusc-", "aws-eusc"))

ARN_TEMPLATES: dict[str, str] = {
    "ec2.instance": "arn:{partition}:ec2:{region}:{account}:instance/{id}",
    "ec2.security-group": "arn:{partition}:ec2:{region}:{account}:security-group/{id}",
    "ec2.vpc": "arn:{partition}:ec2:{region}:{account}:vpc/{id}",
    "ec2.subnet": "arn:{partition}:ec2:{region}:{account}:subnet/{id}",
    "ec2.nat-gateway": "arn:{partition}:ec2:{region}:{account}:natgateway/{id}",
    "ec2.elastic-ip": "arn:{partition}:ec2:{region}:{account}:elastic-ip/{id}",
    "ec2.volume": "arn:{partition}:ec2:{region}:{account}:volume/{id}",
    "ec2.snapshot": "arn:{partition}:ec2:{region}::snapshot/{id}",
    "ec2.image": "arn:{partition}:ec2:{region}::image/{id}",
    "s3.bucket": "arn:{partition}:s3:::{id}",
    "lambda.function": "arn:{partition}:lambda:{region}:{account}:function:{id}",
    "eks.cluster": "arn:{partition}:eks:{region}:{account}:cluster/{id}",
    "ecs.cluster": "arn:{partition}:ecs:{region}:{account}:cluster/{id}",
    "rds.instance": "arn:{partition}:rds:{region}:{account}:db:{id}",
    "rds.cluster": "arn:{partition}:rds:{region}:{account}:cluster:{id}",
    "dynamodb.table": "arn:{partition}:dynamodb:{region}:{account}:table/{id}",
    "elasticache.cluster": "arn:{partition}:elasticache:{region}:{account}:cluster:{id}",
    "iam.role": "arn:{partition}:iam::{account}:role/{id}",
    "kms.key": "arn:{partition}:kms:{region}:{account}:key/{id}",
    "ecr.repository": "arn:{partition}:ecr:{region}:{account}:repository/{id}",
    "route53.hosted-zone": "arn:{partition}:route53:::hostedzone/{id}",
}
# Types listed once per account by the collectors: shard scope "global".
GLOBAL_TYPES = frozenset({"s3.bucket", "iam.role", "route53.hosted-zone"})
# Types whose id the service stores lower case whatever the caller typed.
LOWER_CASE_IDS = frozenset({"rds.instance", "rds.cluster", "elasticache.cluster"})
# Types whose collector uid cannot always be rebuilt from what a record names.
NAME_KEYED_TYPES = frozenset({"autoscaling.group", "iam.role"})
UNKNOWN_PART = "*"


def partition_for(region: str) -> str:
    for prefix, partition in _PARTITION_PREFIXES:
        if region.startswith(prefix):
            return partition
    return "aws"


@dataclass(frozen=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str

    @classmethod
    def parse(cls, text: str) -> Arn | None:
        parts = text.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn":
            return None
        return cls(*parts[1:])


@dataclass(frozen=True)
class Place:
    """Where a record's call happened: the defaults for ids that come without an ARN."""

    account: str
    region: str

    @property
    def partition(self) -> str:
        return partition_for(self.region)


def make(type_name: str, rid: str, place: Place, *, account: str | None = None, region: str | None = None,
         partition: str | None = None) -> TouchedResource:
    """The touched resource ``rid`` of a template type, as the collector would name it."""
    if type_name in LOWER_CASE_IDS:
        rid = rid.lower()
    region = place.region if region is None else region
    uid = ARN_TEMPLATES[type_name].format(partition=partition or partition_for(region or place.region),
                                          region=region, account=account or place.account, id=rid)
    return TouchedResource(uid=uid, type=type_name, id=rid)


def iam_role(name: str, place: Place, path: str | None = None) -> TouchedResource:
    """A role named without its ARN: its path is "/" unless the record says otherwise."""
    inner = (path or "/").strip("/")
    uid = ARN_TEMPLATES["iam.role"].format(partition=place.partition, account=place.account,
                                           id=f"{inner}/{name}" if inner else name)
    return TouchedResource(uid=uid, type="iam.role", id=name)


def autoscaling_group(name: str, place: Place) -> TouchedResource:
    """A group named without its ARN: the UUID in it is unknown (see `NAME_KEYED_TYPES`)."""
    uid = (f"arn:{place.partition}:autoscaling:{place.region}:{place.account}:autoScalingGroup:"
           f"{UNKNOWN_PART}:autoScalingGroupName/{name}")
    return TouchedResource(uid=uid, type="autoscaling.group", id=uid)


def is_exact(touched: TouchedResource) -> bool:
    """False for a uid with an unknown part (an auto scaling group named only by name)."""
    return f":{UNKNOWN_PART}:" not in touched.uid


def home(touched: TouchedResource, account: str, region: str) -> tuple[str, str]:
    """(account, scope region) of a touched resource, as the collector's shard key has them."""
    arn = Arn.parse(touched.uid)
    owner = arn.account if arn and arn.account else account
    if touched.type in GLOBAL_TYPES:
        return owner, GLOBAL_REGION
    return owner, (arn.region if arn and arn.region else region)


_LAMBDA_NAME = re.compile(r"^(?:(?:arn:[^:]+:lambda:[^:]*:)?\d{12}:function:)?([^:]+)(?::[^:]+)?$")


def lambda_function_name(reference: str) -> str | None:
    """``my-fn``, ``my-fn:PROD``, ``123456789012:function:my-fn`` or its ARN -> ``my-fn``."""
    match = _LAMBDA_NAME.match(reference)
    return match.group(1) if match else None


def hosted_zone_id(reference: str) -> str:
    """``/hostedzone/Z123`` (how Route 53 answers) -> ``Z123`` (the collector's id)."""
    return reference.rsplit("/", 1)[-1]


# --- from an ARN a record carries (TagResource-style calls, responses) --------------------

_EC2_KINDS = {"instance": "ec2.instance", "security-group": "ec2.security-group", "vpc": "ec2.vpc",
              "subnet": "ec2.subnet", "natgateway": "ec2.nat-gateway", "elastic-ip": "ec2.elastic-ip",
              "volume": "ec2.volume", "snapshot": "ec2.snapshot", "image": "ec2.image"}
# (service, pattern on the resource part, type): the id is the pattern's "id" group.
_TEMPLATE_ARNS: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (service, re.compile(pattern), type_name)
    for service, pattern, type_name in (
        ("s3", r"^(?P<id>[^/]+)$", "s3.bucket"),
        ("lambda", r"^function:(?P<id>[^:]+)(:[^:]+)?$", "lambda.function"),
        ("eks", r"^cluster/(?P<id>[^/]+)$", "eks.cluster"),
        ("ecs", r"^cluster/(?P<id>[^/]+)$", "ecs.cluster"),
        ("rds", r"^db:(?P<id>.+)$", "rds.instance"),
        ("rds", r"^cluster:(?P<id>.+)$", "rds.cluster"),
        ("dynamodb", r"^table/(?P<id>[^/]+)$", "dynamodb.table"),
        ("elasticache", r"^cluster:(?P<id>.+)$", "elasticache.cluster"),
        ("kms", r"^key/(?P<id>.+)$", "kms.key"),
        ("ecr", r"^repository/(?P<id>.+)$", "ecr.repository"),
        ("route53", r"^hostedzone/(?P<id>.+)$", "route53.hosted-zone"),
    )
)
_LOAD_BALANCER = re.compile(r"^(loadbalancer|listener)/(?P<id>(app|net|gwy)/[^/]+/[^/]+)(/[^/]+)?$")


def _ec2_from_arn(arn: Arn) -> TouchedResource | None:
    kind, _, rid = arn.resource.partition("/")
    type_name = _EC2_KINDS.get(kind)
    if not type_name or not rid or "/" in rid:
        return None
    return make(type_name, rid, Place(arn.account, arn.region), partition=arn.partition)


def _kept_as_is(arn: Arn, text: str) -> TouchedResource | None:
    """Types whose collector keeps the ARN AWS returns (it holds what no name tells)."""
    if arn.service == "ecs" and arn.resource.startswith("service/"):
        return TouchedResource(uid=text, type="ecs.service", id=text)
    if arn.service == "autoscaling" and arn.resource.startswith("autoScalingGroup:"):
        return TouchedResource(uid=text, type="autoscaling.group", id=text)
    if arn.service == "iam" and arn.resource.startswith("role/"):
        return TouchedResource(uid=text, type="iam.role", id=arn.resource.rsplit("/", 1)[-1])
    if arn.service == "elasticloadbalancing" and (match := _LOAD_BALANCER.match(arn.resource)):
        # a listener's ARN names its load balancer: "listener/app/<name>/<lb>/<listener>"
        lb_arn = f"arn:{arn.partition}:elasticloadbalancing:{arn.region}:{arn.account}:loadbalancer/{match['id']}"
        return TouchedResource(uid=lb_arn, type="elbv2.load-balancer", id=match["id"])
    return None


def from_arn(text: str) -> TouchedResource | None:
    """The observed resource an ARN names, or None (another kind of resource, or not an ARN)."""
    arn = Arn.parse(text) if isinstance(text, str) else None
    if arn is None:
        return None
    if arn.service == "ec2":
        return _ec2_from_arn(arn)
    for service, pattern, type_name in _TEMPLATE_ARNS:
        if service == arn.service and (match := pattern.match(arn.resource)):
            return make(type_name, match["id"], Place(arn.account, arn.region), partition=arn.partition)
    return _kept_as_is(arn, text)
