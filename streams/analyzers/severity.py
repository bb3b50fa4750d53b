"""Severity rules of drift: each field change is judged by the first rule that fires.

Exposure first (docs/analyzers.md lists every rule with its evidence):

- ``world-open-admin-port`` (critical): an ingress rule from 0.0.0.0/0 or ::/0 that
  reaches SSH, RDP or all traffic;
- ``world-open`` (high): any other ingress rule from the whole internet, or the
  internet added to an EKS endpoint's allowed ranges;
- ``public-access`` (high): a resource made public (a public flag set, an S3 public
  access block loosened or removed, an internet-facing scheme, a function URL without
  auth, ``*`` added to a resource policy's principals);
- ``encryption-off`` (high): encryption turned off or removed;
- ``iam-trust`` (high): who may assume an IAM role changed;
- ``iam-permissions`` (medium): a role's inline or managed policies changed;
- ``ownership-tag-removed`` (medium): an owner / team / cost-center tag removed;
- ``changed`` (low): anything else.

``out-of-band`` (high, drift.py) judges the change as a whole, not a field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from elava.catalogue.constants import ADMIN_PORTS, WORLD_CIDRS
from elava.events import FieldChange
from streams.analyzers.risk import OWNERSHIP_TAGS

RANK = ("info", "low", "medium", "high", "critical")
PUBLIC_FLAGS = {"attributes.public": True, "attributes.publicly_accessible": True,
                "attributes.endpoint_public_access": True, "attributes.map_public_ip_on_launch": True,
                "attributes.scheme": "internet-facing", "attributes.url_auth_type": "NONE"}
ENCRYPTION_FLAGS = ("attributes.encrypted", "attributes.storage_encrypted", "attributes.at_rest_encryption",
                    "attributes.transit_encryption")
ENCRYPTION_SETTINGS = ("attributes.encryption", "attributes.secrets_encryption_key")
TRUST = ("attributes.trust_policy", "attributes.trusted_principals")
PERMISSIONS = ("attributes.inline_policies", "attributes.managed_policies", "attributes.permissions_boundary")


def worse(a: str, b: str) -> str:
    return a if RANK.index(a) >= RANK.index(b) else b


def _under(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == root or path.startswith(root + ".") for root in roots)


def _is_world(value: Any) -> bool:
    return isinstance(value, str) and value in WORLD_CIDRS  # (an odd value, a dict, is not hashable)


def _world_rule(change: FieldChange) -> bool:
    rule = change.new
    return (change.op == "add" and change.path == "attributes.ingress" and isinstance(rule, dict)
            and (_is_world(rule.get("cidr")) or _is_world(rule.get("ipv6_cidr"))))


def _touches_admin_port(rule: dict[str, Any]) -> bool:
    if rule.get("protocol") in ("-1", "all"):
        return True
    low, high = rule.get("from_port"), rule.get("to_port")
    if low is None or high is None:
        return False
    return any(low <= port <= high for port in ADMIN_PORTS)


def world_open(change: FieldChange) -> tuple[str, str] | None:
    if _world_rule(change):
        return ("critical", "world-open-admin-port") if _touches_admin_port(change.new) else ("high", "world-open")
    if change.op == "add" and change.path == "attributes.public_access_cidrs" and _is_world(change.new):
        return "high", "world-open"
    return None


def public_access(change: FieldChange) -> tuple[str, str] | None:
    path = change.path
    made_public = (
        (path in PUBLIC_FLAGS and change.op != "remove" and change.new == PUBLIC_FLAGS[path])
        # A public access block: a flag turned off, or the block removed.
        or (path.startswith("attributes.public_access_block.") and change.new is False)
        or (path == "attributes.public_access_block" and change.new is None)
        or (path == "attributes.policy_principals" and change.op == "add" and change.new == "*")
    )
    return ("high", "public-access") if made_public else None


def encryption_off(change: FieldChange) -> tuple[str, str] | None:
    turned_off = (
        (change.path in ENCRYPTION_FLAGS and change.new is False)
        or (change.path in ENCRYPTION_SETTINGS and change.new is None and change.old is not None)
    )
    return ("high", "encryption-off") if turned_off else None


def iam(change: FieldChange) -> tuple[str, str] | None:
    if _under(change.path, TRUST):
        return "high", "iam-trust"
    if _under(change.path, PERMISSIONS):
        return "medium", "iam-permissions"
    return None


def ownership_tag(change: FieldChange) -> tuple[str, str] | None:
    if change.path.startswith("tags.") and change.op == "remove" and change.path[5:] in OWNERSHIP_TAGS:
        return "medium", "ownership-tag-removed"
    return None


Rule = Callable[[FieldChange], tuple[str, str] | None]

# Each rule, in order, with the paths it reads as prefixes: a rule fires only on a change whose
# path starts with one (most field changes start with none, and are judged without asking).
RULES: tuple[tuple[Rule, tuple[str, ...]], ...] = (
    (world_open, ("attributes.ingress", "attributes.public_access_cidrs")),
    (public_access, (*PUBLIC_FLAGS, "attributes.public_access_block", "attributes.policy_principals")),
    (encryption_off, (*ENCRYPTION_FLAGS, *ENCRYPTION_SETTINGS)),
    (iam, (*TRUST, *PERMISSIONS)),
    (ownership_tag, ("tags.",)),
)
_READ = tuple(prefix for _, prefixes in RULES for prefix in prefixes)
CHANGED = ("low", "changed")


def judge(change: FieldChange) -> tuple[str, str]:
    """(severity, rule) of one field change."""
    path = change.path
    if not path.startswith(_READ):
        return CHANGED
    return next((found for rule, reads in RULES if path.startswith(reads) and (found := rule(change)) is not None),
                CHANGED)
