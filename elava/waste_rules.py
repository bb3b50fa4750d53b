"""The waste rules by name: what `analyzer.waste.disabled` and `elava waste --reason` accept.

The rules themselves are core logic (streams/analyzers/waste/rules.py, one function each);
a test checks that both name the same rules. Each finding's ``pattern`` is one of these.
"""

from __future__ import annotations

RULES: dict[str, str] = {
    "orphaned": "no owner tag and no creator Elava could attribute",
    "unattached-volume": "an EBS volume attached to nothing",
    "unassociated-address": "an Elastic IP associated with nothing",
    "stopped-instance": "an instance stopped longer than idle_threshold",
    "orphaned-snapshot": "a snapshot whose volume is gone and that no image of ours is made of",
    "unused-image": "an AMI no instance of ours runs",
    "idle-load-balancer": "a load balancer with no listeners, or no requests or flows over the window",
    "no-healthy-targets": "a load balancer whose listeners lead to no healthy target (none registered, or none healthy)",
    "idle-nat-gateway": "a NAT gateway that moved no bytes over the window",
    "idle-database": "an RDS instance with no connections over the window",
    "uninvoked-function": "a Lambda function not invoked over the window",
    "empty-repository": "an ECR repository without images",
    "empty-bucket": "an S3 bucket without objects",
    "oversized-instance": "a large instance whose CPU p95 stayed under the threshold over the window",
}
RULE_NAMES: tuple[str, ...] = tuple(RULES)
