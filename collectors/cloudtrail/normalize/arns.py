"""Resource uids exactly as the collectors make them, from the same declarations.

A collector takes a resource's ARN from the API where AWS returns one and formats its
type's ``arn_template`` otherwise (`elava.catalogue`); here a record's ids are formatted
with that very template, and a record's ARNs are recognised by each type's
``arn_match``. Where the collector keeps an ARN that a record cannot rebuild from a
name (``guessed_from_names``: auto scaling groups carry a UUID, IAM roles their path),
the record's own ARNs are used when it has them, and a guess otherwise.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from elava.catalogue import registry
from elava.catalogue.arns import Arn, ArnMatch, partition_for
from elava.catalogue.trail import UNKNOWN_PART
from elava.catalogue.types import ResourceType
from elava.events import TouchedResource
from elava.sharding import GLOBAL_REGION

__all__ = ["Arn", "Place", "from_arn", "home", "is_exact", "make", "partition_for"]


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
    rt = registry.get(type_name)
    if rt.lower_case_ids:
        rid = rid.lower()
    region = place.region if region is None else region
    uid = rt.uid_for(rid, partition=partition or partition_for(region or place.region), region=region,
                     account=account or place.account)
    return TouchedResource(uid=uid, type=type_name, id=rid)


def is_exact(touched: TouchedResource) -> bool:
    """False for a uid with an unknown part (an auto scaling group named only by name)."""
    return f":{UNKNOWN_PART}:" not in touched.uid


def is_guessed_from_names(type_name: str) -> bool:
    return registry.get(type_name).guessed_from_names


def home(touched: TouchedResource, account: str, region: str) -> tuple[str, str]:
    """(account, scope region) of a touched resource, as the collector's shard key has them."""
    arn = Arn.parse(touched.uid)
    owner = arn.account if arn and arn.account else account
    if registry.get(touched.type).global_service:
        return owner, GLOBAL_REGION
    return owner, (arn.region if arn and arn.region else region)


# --- from an ARN a record carries (TagResource-style calls, responses) --------------------

@functools.cache  # the family modules register every type once, at import
def _matches_by_service() -> dict[str, list[tuple[ResourceType, ArnMatch]]]:
    by_service: dict[str, list[tuple[ResourceType, ArnMatch]]] = {}
    for rt in registry.all_types():
        if rt.arn_match is not None:
            by_service.setdefault(rt.arn_match.service, []).append((rt, rt.arn_match))
    return by_service


def _named_by(rt: ResourceType, form: ArnMatch, arn: Arn, text: str, match: re.Match[str]) -> TouchedResource:
    rid = match.groupdict().get("id")
    if form.keep_arn or rid is None:
        return TouchedResource(uid=text, type=rt.name, id=rid or text)
    return make(rt.name, rid, Place(arn.account, arn.region), partition=arn.partition)


def from_arn(text: str) -> TouchedResource | None:
    """The observed resource an ARN names, or None (another kind of resource, or not an ARN)."""
    arn = Arn.parse(text) if isinstance(text, str) else None
    if arn is None:
        return None
    for rt, form in _matches_by_service().get(arn.service, ()):
        if match := form.match(arn):
            return _named_by(rt, form, arn, text, match)
    return None
