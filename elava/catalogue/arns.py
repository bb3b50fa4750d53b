"""ARNs: the partition of a region, an ARN's parts, and how a type recognises its own.

The collectors build a resource's uid from its type's declaration; attribution reads
the uids back out of CloudTrail records with the same declaration (`ArnMatch`), so
the two agree by construction, not by a copy held equal by a test.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

# Partitions by region prefix; everything else is the commercial partition.
PARTITION_PREFIXES = (
    ("cn-", "aws-cn"),
    ("us-gov-", "aws-us-gov"),
    ("us-isob-", "aws-iso-b"),
    ("us-iso-", "aws-iso"),
    ("eusc-", "aws-eusc"),
)
DEFAULT_ID_PATTERN = r"[^/]+"  # what {id} of an ARN template matches unless a type says otherwise


@functools.cache  # a handful of regions, asked for every uid made
def partition_for(region: str) -> str:
    for prefix, partition in PARTITION_PREFIXES:
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
class ArnMatch:
    """How an ARN found in a record names a resource of one type.

    ``service`` is the ARN's service (``elasticloadbalancing``, not boto's ``elbv2``);
    ``resource`` a regular expression on the ARN's resource part whose ``id`` group is
    the resource's id (without that group, the id is the whole ARN). The uid is the
    type's ``arn_template`` formatted with the ARN's partition, region and account and
    that id (a listener's ARN names its load balancer); with ``keep_arn`` it is the ARN
    as given (it holds what no name tells: a role's path, a group's UUID).
    """

    service: str
    resource: str
    keep_arn: bool = False
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pattern", re.compile(self.resource))

    def match(self, arn: Arn) -> re.Match[str] | None:
        return self.pattern.match(arn.resource) if arn.service == self.service else None

    @classmethod
    def from_template(cls, template: str, id_pattern: str = DEFAULT_ID_PATTERN) -> ArnMatch:
        """The match of a type whose uid is its template: ``arn:{partition}:eks:...:cluster/{id}``."""
        parts = template.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn" or parts[5].count("{id}") != 1:
            raise ValueError(f"ARN template {template!r} must be 'arn:...:<service>:...:<resource with {{id}}>'")
        before, after = parts[5].split("{id}")
        return cls(parts[2], f"^{re.escape(before)}(?P<id>{id_pattern}){re.escape(after)}$")
