"""Risk signals of one resource: exposed to the internet, public, unencrypted, untracked.

Read from the normalised attributes the collectors publish, whatever the type; a
type without such attributes simply has no signals.
"""

from __future__ import annotations

from typing import Any

from elava.catalogue.constants import WORLD_CIDRS
from elava.events import Resource

OWNERSHIP_TAGS = {"owner", "Owner", "team", "Team", "cost-center", "CostCenter"}


def is_tracked(resource: Resource) -> bool:
    """Someone owns it: it carries an ownership tag with a value."""
    return any(resource.tags.get(tag) for tag in OWNERSHIP_TAGS)


def risks(resource: Resource) -> list[str]:
    attributes = resource.attributes
    found = []
    if _open_to_world(attributes):
        found.append("open to 0.0.0.0/0")
    if _public(attributes):
        found.append("public")
    if _unencrypted(resource.type, attributes):
        found.append("unencrypted")
    return found


def _open_to_world(attributes: dict[str, Any]) -> bool:
    rules = attributes.get("ingress") or []
    cidrs = attributes.get("public_access_cidrs") or []
    return any(isinstance(r, dict) and (r.get("cidr") in WORLD_CIDRS or r.get("ipv6_cidr") in WORLD_CIDRS)
               for r in rules) or any(c in WORLD_CIDRS for c in cidrs)


def _public(attributes: dict[str, Any]) -> bool:
    # ``public`` is each type's own verdict (an S3 bucket's weighs its ACL, its policy and
    # the bucket's and account's public access blocks: a missing block alone is not public).
    if attributes.get("public") is True or attributes.get("publicly_accessible") is True:
        return True
    return attributes.get("scheme") == "internet-facing" or attributes.get("url_auth_type") == "NONE"


def _unencrypted(type_name: str, attributes: dict[str, Any]) -> bool:
    if attributes.get("encrypted") is False or attributes.get("storage_encrypted") is False:
        return True
    return type_name == "s3.bucket" and "encryption" in attributes and attributes["encryption"] is None


def high_risk_untracked(resource: Resource) -> bool:
    """What `elava scan --risk-only` shows: nobody owns it and it is exposed."""
    return not is_tracked(resource) and bool(risks(resource))
