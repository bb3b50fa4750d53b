"""A resource type is data, not code (Cloud Custodian's ``TypeInfo`` habit).

A `ResourceType` says which API lists the type, where the items sit in the answer,
which field is the id, how the ARN is formed, where the tags come from, which extra
calls complete an item (`DetailCall`), which attributes are worth keeping, how one
resource is described by id (`Lookup`) and which CloudTrail calls change it
(`TrailFamily`). The collectors' generic scanner does the paging, the calls and the
shaping; attribution reads records with the same facts; a family module
(`compute.py`, `storage.py`, ...) declares its types and registers them.
Nothing here imports boto: every layer may read the catalogue.

Expressions (``result_path``, ``id_field``, attribute paths, ...) are JMESPath, the
language botocore's own paginators use: ``Reservations[].Instances[]``, ``State.Name``,
``sort(SecurityGroups[].GroupId)``, plus ``split(text, sep)`` (``split(Id, '/')[-1]``).

How the scanner completes a listed item, in order: the listing (under a ``parent``
listing if the type has one) -> ``region_detail`` -> ``describe`` -> ``absent_when``
-> ``details`` (concurrently). A ``DetailCall`` is one call per item, or one call per
``batch`` of items where the API takes a list; it may page (``paged``) and fan out
(``each``: one more call per element of its answer).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from elava.catalogue.arns import DEFAULT_ID_PATTERN, Arn, ArnMatch
from elava.catalogue.exceptions import InvalidResourceType
from elava.catalogue.expressions import compile_check
from elava.catalogue.relations import Edge
from elava.catalogue.trail import TrailFamily
from elava.catalogue.usage import Usage

GLOBAL_CLIENT_REGION = "us-east-1"  # where per-account ("global") listings are asked

Transform = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]
"""``transform(attributes, raw_item) -> attributes``: normalise what the paths picked."""

_TYPE_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*\.[a-z0-9]+(-[a-z0-9]+)*$")
_TAG_SOURCE = re.compile(r"^(inline|detail):([A-Za-z0-9_]+)((\.[A-Za-z0-9_]+)*)$")
BULK_TAGS_SERVICE, BULK_TAGS_OPERATION = "resourcegroupstaggingapi", "get_resources"
"""Where ``bulk_tags`` types take their tags: every tagged resource of a region, 100 a call."""
EACH = "Each"
"""In an ``each`` call's params, the element of the outer answer it is made for."""
ACCOUNT = "Account"
"""In an account detail's params, the id of the account scanned."""


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


def _check_expressions(owner: str, *expressions: str | None) -> None:
    for expression in expressions:
        if not expression:
            continue
        try:
            compile_check(expression)
        except ValueError as exc:  # jmespath's ParseError is a ValueError
            raise InvalidResourceType(f"{owner}: bad expression {expression!r}: {exc}") from None


@dataclass(frozen=True)
class Batch:
    """A detail call that takes many items at once (``describe_tags(ResourceArns=[...20])``).

    ``param`` is the request parameter that gets the list (its expression in the
    call's ``params`` picks each item's value); ``match`` is the expression, on each
    element of the answer (at ``result_path``), that gives the value back, so the
    element finds its item; ``value`` (optional) is what to keep of the element.
    Items whose other params differ (``cluster``) go in different calls.
    """

    param: str
    size: int
    match: str
    value: str | None = None

    def __post_init__(self) -> None:
        if self.size < 1:
            raise InvalidResourceType(f"batch of {self.param}: size must be at least 1")
        _check_expressions(f"batch of {self.param}", self.match, self.value)


@dataclass(frozen=True)
class DetailCall:
    """One extra call per listed item; its answer is stored in the item as ``store_as``.

    ``params`` maps request parameters to expressions on the listed item
    (``{"Bucket": "Name"}``); ``static_params`` are sent as they are. AWS answers
    "not configured" with an error for some settings (``NoSuchTagSet``): those codes
    are listed in ``none_errors`` and give ``default`` instead of failing the scan.

    - ``paged``: the answer comes in pages; the lists at ``result_path`` are joined.
    - ``each``: one more call per element of the answer (``list_nodegroups`` then
      ``describe_nodegroup``); its params see the item plus the element as ``Each``;
      the stored value is the list of its answers (``None`` answers dropped) — or, when
      the fan-out call has ``keep_element``, the elements themselves, each with its
      answer under the fan-out call's ``store_as`` (a target group with its targets' health).
    - ``batch``: see `Batch`; an item the answer does not mention gets ``default``.
    - ``convert`` is applied last, to the value stored.
    - ``volatile``: the answer moves without a CloudTrail event naming the resource
      (target health): a collector that reuses details asks it (with the call that fans
      out to it) every scan.
    """

    operation: str
    params: Mapping[str, str]
    store_as: str
    result_path: str | None = None
    static_params: Mapping[str, Any] = field(default_factory=dict)
    none_errors: frozenset[str] = frozenset()
    default: Any = None
    convert: Callable[[Any], Any] | None = None
    paged: bool = False
    each: DetailCall | None = None
    batch: Batch | None = None
    service: str | None = None  # another service's client (s3control); None: the type's own
    keep_element: bool = False  # as the ``each`` of another call: keep the element, the answer in it
    volatile: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", _frozen(self.params))
        object.__setattr__(self, "static_params", _frozen(self.static_params))
        object.__setattr__(self, "none_errors", frozenset(self.none_errors))
        _check_expressions(f"detail call {self.operation}", *self.params.values(), self.result_path)
        self._check_shape()

    def _check_shape(self) -> None:
        owner = f"detail call {self.operation}"
        if self.batch is not None:
            if self.batch.param not in self.params:
                raise InvalidResourceType(f"{owner}: batch param {self.batch.param!r} is not in params")
            if self.paged or self.each is not None:
                raise InvalidResourceType(f"{owner}: a batched call can neither page nor fan out")
            if not self.result_path:
                raise InvalidResourceType(f"{owner}: a batched call needs the result_path of its elements")
        if self.paged and not self.result_path:
            raise InvalidResourceType(f"{owner}: a paged call needs the result_path of the list to join")
        if self.each is not None and self.each.batch is not None:
            raise InvalidResourceType(f"{owner}: the call made for each element cannot be batched")

    def operations(self) -> tuple[str, ...]:
        """This call's operation and its fan-out's (for permissions)."""
        return (self.operation,) + (self.each.operations() if self.each else ())

    def asked_every_scan(self) -> bool:
        """Its answer, or its fan-out's stored in it, is volatile: never reused."""
        return self.volatile or (self.each is not None and self.each.asked_every_scan())


@dataclass(frozen=True)
class ParentListing:
    """A type listed per item of another listing (ECS services, per cluster).

    The parent listing is paged with ``params``; each of its items (a scalar becomes
    ``{item_key: value}``) gives the child listing's ``child_params`` (expressions on
    the parent item) and is stored in each child item as ``store_as``. A child listing
    that fails with one of ``gone_errors`` (the parent went in between) lists nothing.
    """

    operation: str
    result_path: str
    child_params: Mapping[str, str]
    store_as: str
    params: Mapping[str, Any] = field(default_factory=dict)
    item_key: str | None = None
    gone_errors: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "child_params", _frozen(self.child_params))
        object.__setattr__(self, "params", _frozen(self.params))
        object.__setattr__(self, "gone_errors", frozenset(self.gone_errors))
        _check_expressions(f"parent listing {self.operation}", self.result_path, *self.child_params.values())


@dataclass(frozen=True)
class Lookup:
    """How to describe one resource by its id (the executor's fresh look right before it acts).

    With ``id_param`` the type's own listing is asked for that id alone: ``params``
    replace ``list_params`` (AWS refuses ``MaxResults`` beside ids) and ``id_param`` gets
    the id, in a list when ``as_list``. Without it the item is made as the listing
    would give it, ``{id_field: id}`` (an S3 bucket by name). Either way the type's
    describe and detail calls then complete it, exactly as in a scan. ``gone_errors``
    are AWS's answers for "no such resource": the resource is gone, not an error.
    """

    id_param: str | None = None
    as_list: bool = True
    params: Mapping[str, Any] = field(default_factory=dict)
    gone_errors: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", _frozen(self.params))
        object.__setattr__(self, "gone_errors", frozenset(self.gone_errors))


_PLAIN_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Lifecycle:
    """A type's state attribute, and what its values mean to the analyzers (docs/analyzers.md).

    - ``running`` / ``stopped``: the states a start / a stop ends in (the schedule pattern);
    - ``settling``: transitional states AWS completes on its own (``pending`` becomes
      ``running``): a change *from* one is AWS finishing what the caller began, not drift;
    - ``aws_initiated``: states AWS enters on its own (an automated backup, maintenance):
      a change *to or from* one is not drift.
    """

    attribute: str
    running: tuple[str, ...] = ()
    stopped: tuple[str, ...] = ()
    settling: tuple[str, ...] = ()
    aws_initiated: tuple[str, ...] = ()


@dataclass(frozen=True)
class ResourceType:
    """Everything the generic scanner needs to know about one AWS resource type.

    - ``item_key``: the listing gives scalars (names, ARNs); each becomes
      ``{item_key: value}``.
    - ``parent``: the listing is made once per item of another listing.
    - ``id_field``: the id must be unique per uid within an account/region/type (a
      scan marker lists ids): where a re-created resource keeps its name but not its
      ARN (load balancers, auto scaling groups), the id includes what changes.
    - ``arn_field`` (an expression on the item) wins when AWS returns the ARN;
      otherwise ``arn_template`` is formatted with ``partition``, ``region``,
      ``account`` and ``id``.
    - ``tags_from``: ``"inline:<Field>"`` (the listing carries the tags) or
      ``"detail:<store_as>"`` (a detail call fetches them), optionally followed by a
      path inside it (``detail:Cluster.tags``).
    - ``bulk_tags``: the Resource Groups Tagging API's ``ResourceTypeFilters`` entry
      for the type (``dynamodb:table``): the scan then takes every tag of a region from
      ``GetResources`` (100 resources a call, shared by the types) instead of calling the
      ``tags_from`` detail per resource; that detail stays the fallback when the bulk
      call is refused. Only for a ``tags_from`` detail of its own (not the describe).
    - ``describe``: the call that completes a listed item before anything else
      (``describe_key``), so ``absent_when`` and the other details can use its
      answer. When it answers one of its ``none_errors`` (the resource went between
      listing and describing), the item is absent.
    - ``global_service``: listed once per account (scope ``global``, asked in
      us-east-1). ``region_detail`` then finds where each resource really lives;
      the other details are asked in that region. ``listed_region`` (an expression on
      the listed item) spares that call where the listing already says the region.
    - ``absent_when(item)``: listed but gone (a terminated instance) or not ours
      to observe (an AWS-managed key); treated as not observed. It is asked once
      the item is described, before the other details are fetched.
    - ``secret_fields``: attribute paths redacted before anything leaves the
      collector (on top of the keys that name secrets, see `collectors.redact`).
    - ``lookup``: how to describe one resource by id (`Lookup`); a type without one
      cannot be looked at alone (the executor has no effector for it).
    - ``account_details``: calls asked once per scan of the type in an account (S3's
      account-level public access block), their answers stored in every item; their
      params see ``Account``, the scanned account's id.
    - ``edges``: what a resource of the type uses (`relations.Edge`: its subnet, its
      security groups, its role), read from its attributes; the store keeps them with
      each version and answers "what uses this" from them.

    What attribution needs to find the type in CloudTrail records:

    - ``trail``: its event families (`TrailFamily`); or ``no_trail``, saying why no
      CloudTrail call can be attributed to it. A family of several types (EC2 tags)
      is registered on its own (`registry.register_family`).
    - ``arn_match``: how an ARN in a record names it (`ArnMatch`); by default the
      ``arn_template`` read backwards, its ``{id}`` matching ``arn_id_pattern``.
    - ``id_prefix``: its ids say their type (``i`` of ``i-0abc``): any EC2 tagging call.
    - ``lower_case_ids``: the service stores the id lower case, whatever the caller typed.
    - ``guessed_from_names``: a record may name it only by a name, so the uid read from
      it is a guess the store resolves (an auto scaling group's UUID, a role's path).

    What the waste rules need: ``usage`` (`Usage`: its CloudWatch metrics, pricing units,
    what it uses, when it was created).

    What the drift and pattern analyzers need (docs/analyzers.md lists every entry):

    - ``lifecycle``: its state attribute and what the states mean (`Lifecycle`);
    - ``churn``: attributes that move without anyone changing the configuration, each with
      why (a desired capacity moved by scaling policies, a time stamped at every start, a
      bucket's emptiness as objects come and go): never drift.
    """

    name: str
    service: str
    list_operation: str
    result_path: str
    id_field: str
    arn_template: str | None = None
    arn_field: str | None = None
    list_params: Mapping[str, Any] = field(default_factory=dict)
    item_key: str | None = None
    parent: ParentListing | None = None
    name_field: str | None = None
    name_tag: str | None = "Name"
    tags_from: str | None = None
    bulk_tags: str | None = None
    global_service: bool = False
    region_detail: DetailCall | None = None
    listed_region: str | None = None
    describe: DetailCall | None = None
    details: tuple[DetailCall, ...] = ()
    attributes: Mapping[str, str] = field(default_factory=dict)
    transform: Transform | None = None
    absent_when: Callable[[dict[str, Any]], bool] | None = None
    secret_fields: tuple[str, ...] = ()
    lookup: Lookup | None = None
    account_details: tuple[DetailCall, ...] = ()
    edges: tuple[Edge, ...] = ()
    trail: tuple[TrailFamily, ...] = ()
    no_trail: str | None = None
    arn_match: ArnMatch | None = None
    arn_id_pattern: str = DEFAULT_ID_PATTERN
    id_prefix: str | None = None
    lower_case_ids: bool = False
    guessed_from_names: bool = False
    usage: Usage | None = None
    lifecycle: Lifecycle | None = None
    churn: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "list_params", _frozen(self.list_params))
        object.__setattr__(self, "attributes", _frozen(self.attributes))
        object.__setattr__(self, "details", tuple(self.details))
        object.__setattr__(self, "secret_fields", tuple(self.secret_fields))
        object.__setattr__(self, "trail", tuple(self.trail))
        object.__setattr__(self, "churn", _frozen(self.churn))
        object.__setattr__(self, "account_details", tuple(self.account_details))
        object.__setattr__(self, "edges", tuple(self.edges))
        self._check()
        if self.arn_match is None and self.arn_template:
            object.__setattr__(self, "arn_match", ArnMatch.from_template(self.arn_template, self.arn_id_pattern))

    def _fail(self, why: str) -> None:
        raise InvalidResourceType(f"resource type {self.name!r}: {why}")

    def _check(self) -> None:
        if not _TYPE_NAME.match(self.name):
            self._fail("name must look like 'service.kind' (lower case, e.g. ec2.instance)")
        if not (self.arn_field or self.arn_template):
            self._fail("needs an arn_field or an arn_template")
        if self.region_detail and not self.global_service:
            self._fail("region_detail only makes sense for a global_service type")
        if self.describe and self.describe.default is not None:
            self._fail("describe's default must be None: a resource that cannot be described is absent")
        if self.listed_region and not self.region_detail:
            self._fail("listed_region spares a region_detail call: the type has none")
        if self.region_detail and self.region_detail.batch:
            self._fail("region_detail cannot be batched (it decides each item's client)")
        stored = [detail.store_as for detail in (*self.account_details, *self.all_details())]
        if len(stored) != len(set(stored)):
            self._fail(f"two detail calls store into the same field: {stored}")
        if self.parent and self.parent.store_as in stored:
            self._fail(f"the parent and a detail call both store into {self.parent.store_as!r}")
        if any(detail.batch or detail.each for detail in self.account_details):
            self._fail("an account detail is one call: it can neither be batched nor fan out")
        edge_names = [edge.name for edge in self.edges]
        if len(edge_names) != len(set(edge_names)):
            self._fail(f"two edges have the same name: {edge_names}")
        self._check_tags_from(set(stored))
        self._check_lookup()
        self._check_trail()
        self._check_analyzer_facts()
        _check_expressions(f"resource type {self.name!r}", self.result_path, self.id_field, self.arn_field,
                           self.name_field, self.listed_region, *self.attributes.values())

    def _check_tags_from(self, stored: set[str]) -> None:
        if self.tags_from is None:
            if self.bulk_tags:
                self._fail("bulk_tags needs the tags_from detail it replaces")
            return
        match = _TAG_SOURCE.match(self.tags_from)
        if not match:
            self._fail(f"tags_from {self.tags_from!r} must be 'inline:<Field>' or 'detail:<store_as>'")
        if match.group(1) == "detail" and match.group(2) not in stored:
            self._fail(f"tags_from {self.tags_from!r} names no detail call (have: {sorted(stored)})")
        if self.bulk_tags and (match.group(1) != "detail" or match.group(3) or self.tags_detail is None):
            self._fail("bulk_tags replaces a detail call that only fetches the tags (tags_from 'detail:<store_as>' "
                       "of one of its details)")

    def _check_lookup(self) -> None:
        if self.lookup is None:
            return
        if self.parent is not None:
            self._fail("a type listed under a parent cannot be looked up by id alone")
        if self.lookup.id_param is None and not _PLAIN_FIELD.match(self.id_field):
            self._fail(f"a lookup without id_param makes the item {{id_field: id}}: "
                       f"id_field {self.id_field!r} must be a plain field name")

    def _check_analyzer_facts(self) -> None:
        """Churn and the state attribute name attributes the type keeps (a typo would ignore nothing)."""
        named = set(self.churn) | ({self.lifecycle.attribute} if self.lifecycle else set())
        unknown = sorted(named - set(self.attributes))
        if unknown:
            self._fail(f"churn or lifecycle name attributes it does not keep: {unknown}")
        if any(not why.strip() for why in self.churn.values()):
            self._fail("every churn attribute needs its reason (it is documented)")

    def _check_trail(self) -> None:
        if self.trail and self.no_trail:
            self._fail("has trail families and says it has none (no_trail)")
        if self.arn_template:
            try:
                ArnMatch.from_template(self.arn_template, self.arn_id_pattern)
            except ValueError as exc:
                self._fail(str(exc))

    def uid_for(self, rid: str, *, account: str, region: str, partition: str) -> str:
        """The uid of resource ``rid`` made from the ``arn_template`` (AWS gives no ARN for it)."""
        if self.arn_template is None:
            raise InvalidResourceType(f"resource type {self.name!r} has no arn_template: its uid is AWS's ARN")
        return self.arn_template.format(partition=partition, region=region, account=account, id=rid)

    def uid_from_arn(self, arn: Arn, text: str) -> str | None:
        """The uid of the resource of this type that ARN ``text`` names (a listener's ARN names
        its load balancer), or None when it names something else."""
        match = self.arn_match.match(arn) if self.arn_match else None
        if match is None:
            return None
        rid = match.groupdict().get("id")
        if self.arn_match.keep_arn or rid is None:  # type: ignore[union-attr]
            return text
        rid = rid.lower() if self.lower_case_ids else rid
        return self.uid_for(rid, account=arn.account, region=arn.region, partition=arn.partition)

    def all_details(self) -> tuple[DetailCall, ...]:
        staged = (self.region_detail, self.describe)
        return tuple(detail for detail in staged if detail is not None) + self.details

    def operations(self) -> list[tuple[str, str]]:
        """Every (service, operation) a scan of this type may call, in call order."""
        listing = ([self.parent.operation] if self.parent else []) + [self.list_operation]
        details = [(detail.service or self.service, op)
                   for detail in (*self.account_details, *self.all_details()) for op in detail.operations()]
        bulk = [(BULK_TAGS_SERVICE, BULK_TAGS_OPERATION)] if self.bulk_tags else []
        return list(dict.fromkeys([(self.service, op) for op in listing] + details + bulk))

    @property
    def tags_detail(self) -> DetailCall | None:
        """The detail call that fetches only the tags (``tags_from: detail:<store_as>``), if any."""
        if not self.tags_from or not self.tags_from.startswith("detail:"):
            return None
        return next((detail for detail in self.details if detail.store_as == self.tags_from[7:]), None)

    @property
    def tags_path(self) -> str | None:
        """Where the tags sit in the item once the details are in (an expression)."""
        return self.tags_from.split(":", 1)[1] if self.tags_from else None
