"""Event contracts: one pydantic model per topic, serialised as JSON with orjson.

Every event has a ``schema_version`` and a deterministic ``event_id`` computed from
its content and its causes, so a redelivered message is recognisable downstream.
"""

from __future__ import annotations

import functools
import hashlib
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, create_model

from elava.exceptions import SchemaError
from elava.telemetry import trace_headers

SCHEMA_VERSION = 1


def utcnow() -> datetime:
    return datetime.now(UTC)


def canonical_json(value: Any) -> bytes:
    """Bytes that are equal exactly when the values are equal (sorted keys).

    Keys are nearly always strings (JSON's own): orjson writes those a quarter faster
    without OPT_NON_STR_KEYS, with the same bytes, and refuses any other key, which the
    second call writes as before. Every content hash goes through here (docs/benchmarks.md).
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # a key that is not a str (or a value orjson refuses: it raises again)
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


def digest(value: Any, length: int = 32) -> str:
    return hashlib.blake2b(canonical_json(value), digest_size=length // 2).hexdigest()


def stable_hash(text: str) -> int:
    """A hash that is the same in every process (Python's hash() is salted)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def view_of(model: type[BaseModel], fields: list[str], **narrowed: Any) -> type[BaseModel]:
    """A model that reads only ``fields`` of ``model``, each declared as there (type, default,
    constraints); the rest of a message is skipped, not validated. For a reader that needs a
    few fields of a large event (the fleet stage: ~13 instead of ~23 µs per attributed change,
    docs/benchmarks.md). ``narrowed``: a field's type replaced, e.g. by a view of its own."""
    declared = model.model_fields
    return create_model(f"{model.__name__}View", __config__=ConfigDict(frozen=True, extra="ignore"),
                        **{name: (narrowed.get(name, declared[name].annotation), declared[name]) for name in fields})


class Event(BaseModel):
    """Base of every message: frozen, JSON via orjson, id from content + causes."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    ce_type: ClassVar[str] = "elava.event"

    schema_version: int = SCHEMA_VERSION
    event_id: str = ""

    def id_material(self) -> Any:
        """What makes this event what it is; subclasses narrow it to content + causes."""
        return self.model_dump(mode="json", exclude={"event_id"})

    def model_post_init(self, __context: Any) -> None:
        if not self.event_id:
            object.__setattr__(self, "event_id", self.content_id())

    def content_id(self) -> str:
        """The id this content has: a message whose ``event_id`` differs lies about itself."""
        return digest([self.ce_type, self.id_material()])

    def to_bytes(self) -> bytes:
        # pydantic's serializer straight to JSON: the same bytes as orjson over model_dump(mode="json")
        # (a test compares them), without building the dict first (~25% cheaper, measured).
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, data: bytes | str) -> Event:
        try:  # pydantic's own JSON parser: ~2.5x faster than orjson + model_validate
            event = cls.model_validate_json(data)
        except ValueError:
            event = None
        if event is not None and event.schema_version == SCHEMA_VERSION:
            return event
        return cls._checked_from_bytes(data)  # says what is wrong (or reads what it can)

    @classmethod
    def _checked_from_bytes(cls, data: bytes | str) -> Event:
        try:
            raw = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise SchemaError(f"not valid JSON: {exc}") from exc
        if not isinstance(raw, dict):
            raise SchemaError(f"expected a JSON object, got {type(raw).__name__}")
        version = raw.get("schema_version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise SchemaError(f"unsupported schema_version {version!r} (this build reads {SCHEMA_VERSION})")
        try:
            return cls.model_validate(raw)
        except ValueError as exc:
            raise SchemaError(f"invalid {cls.__name__}: {exc}") from exc


class Resource(BaseModel):
    """One normalised AWS resource, as a collector saw it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    uid: str
    type: str
    id: str
    account: str
    region: str
    name: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    attributes: dict[str, Any] = Field(default_factory=dict)

    def content(self) -> dict[str, Any]:
        """The part of a resource whose change makes a new version."""
        return {"name": self.name, "tags": self.tags, "attributes": self.attributes}

    def content_hash(self) -> str:
        return digest(self.content())


ScanStatus = Literal["ok", "failed"]
# delivery-failed: AWS answered, but what was seen did not all reach Kafka.
ErrorClass = Literal["throttled", "access-denied", "region-disabled", "endpoint-error", "delivery-failed", "other"]


class Observation(Event):
    """A page of resources of one account/region/type that hash to one shard."""

    ce_type: ClassVar[str] = "elava.observation"
    scan_id: str
    account: str
    region: str
    type: str
    shard: str
    page: int
    observed_at: datetime
    resources: list[Resource]
    # The kafka.shard_buckets the shard was computed with (None from older collectors):
    # a store built with another bucket count must refuse the page, not apply it.
    shard_buckets: int | None = None

    def id_material(self) -> Any:
        return self.id_material_with([r.uid for r in self.resources])

    def id_material_with(self, uids: list[str]) -> Any:
        """This page's id material had it these resources (the worker reads a page before them: streams/pages.py)."""
        return [self.scan_id, self.shard, self.page, uids]


class ScanMarker(Event):
    """A scan of one account/region/type finished, told to one shard of it.

    ``ids`` are the resource ids seen in this shard: a complete, successful marker
    is what lets the worker infer deletions, and only for the ids it lacks.
    """

    ce_type: ClassVar[str] = "elava.scan-marker"
    scan_id: str
    account: str
    region: str
    type: str
    shard: str
    status: ScanStatus
    error_class: ErrorClass | None = None
    error: str | None = None
    count: int = 0
    ids_digest: str = ""
    ids: list[str] = Field(default_factory=list)
    started_at: datetime
    finished_at: datetime
    shard_buckets: int | None = None  # as on Observation: a marker of another layout deletes nothing

    def id_material(self) -> Any:
        return [self.scan_id, self.shard, self.status, self.ids_digest]


class ScanRequest(Event):
    """Work for the collector group: scan one account (keyed by account id)."""

    ce_type: ClassVar[str] = "elava.scan-request"
    account: str
    regions: list[str] = Field(default_factory=list)
    types: list[str] = Field(default_factory=list)
    tier: str = "default"
    requested_at: datetime

    def id_material(self) -> Any:
        return [self.account, self.tier, self.requested_at]


class Actor(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")
    type: str = "Unknown"
    arn: str | None = None
    name: str | None = None
    role: str | None = None
    kind: Literal["human", "service", "automation", "unknown"] = "unknown"
    via: str | None = None
    source_ip: str | None = None
    user_agent: str | None = None


class TouchedResource(BaseModel):
    model_config = ConfigDict(frozen=True)
    uid: str
    type: str
    id: str


class TrailEvent(Event):
    """One CloudTrail record, normalised, published once per resource it touched."""

    ce_type: ClassVar[str] = "elava.cloudtrail"
    trail_event_id: str
    event_name: str
    event_source: str
    event_time: datetime
    account: str
    region: str
    actor: Actor
    resource: TouchedResource
    read_only: bool = False
    error_code: str | None = None

    def id_material(self) -> Any:
        return [self.trail_event_id, self.resource.uid]


class FieldChange(BaseModel):
    """One field-level difference. ``path`` is dotted; list items are added/removed."""

    model_config = ConfigDict(frozen=True)
    path: str
    op: Literal["add", "remove", "replace"]
    old: Any = None
    new: Any = None


ChangeKind = Literal["created", "modified", "deleted"]


class ChangeEvent(Event):
    ce_type: ClassVar[str] = "elava.change"
    uid: str
    type: str
    account: str
    region: str
    kind: ChangeKind
    previous_version: int | None
    new_version: int
    observed_at: datetime
    diff: list[FieldChange] = Field(default_factory=list)
    resource: Resource | None = None
    cause_id: str

    def id_material(self) -> Any:
        return [self.uid, self.new_version, self.kind, self.cause_id]

    def to_bytes(self, resource: dict[str, Any] | None = None, diff: list[dict[str, Any]] | None = None) -> bytes:
        """The same bytes as ``Event.to_bytes``. ``resource`` and ``diff``: this change's resource and
        diff as their JSON-mode dumps, when the caller has them (the worker's version stores them):
        the bytes are then orjson's over the event's fields, without pydantic serialising the
        resource again (~7 µs of ~10 a change). A test holds both ways equal."""
        if resource is None or diff is None or self.resource is None:
            return super().to_bytes()
        fields = dict(self.__dict__)  # the fields, in their declared order (the JSON's)
        fields.update(observed_at=_json_time(self.observed_at), diff=diff, resource=resource)
        try:
            return orjson.dumps(fields)
        except TypeError:  # an integer beyond 64 bits, which only pydantic writes
            return super().to_bytes()


@functools.lru_cache(maxsize=256)
def _json_time(moment: datetime) -> str:
    """A time as pydantic writes it in JSON (a page's changes share theirs)."""
    return _TIME.dump_python(moment, mode="json")


_TIME = TypeAdapter(datetime)


class Contributor(BaseModel):
    """One of the actors who made a change: the share of its diff they made, how sure that is."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    actor: Actor
    share: float = Field(ge=0.0, le=1.0)
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: list[str] = Field(default_factory=list)


class AttributedChange(Event):
    ce_type: ClassVar[str] = "elava.attributed-change"
    change: ChangeEvent
    actor: Actor  # the main author: the first of ``actors``
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: list[str] = Field(default_factory=list)
    provisional: bool = False
    # Everyone who made the change, largest share first (docs/attribution.md): one entry when
    # one actor made it all, several when people changed different parts between two scans.
    actors: list[Contributor] = Field(default_factory=list)

    def to_bytes(self, change_bytes: bytes | None = None) -> bytes:
        """The same bytes as ``Event.to_bytes``; ``change_bytes``: the change's own ``to_bytes()``
        when the caller made them already (the worker publishes the change just before), so
        the change, most of the message, is not serialised twice."""
        rest = self._bytes_without_change()
        # ``change`` is the field after ``event_id`` (hex): the first ',"actor":' follows it.
        before, actor, after = rest.partition(b',"actor":')
        return b"".join((before, b',"change":', change_bytes or self.change.to_bytes(), actor, after))

    def _bytes_without_change(self) -> bytes:
        """The other fields as pydantic writes them, by orjson over their values (str, float, bool,
        None and lists of them: the same JSON, ~2 µs less than ``model_dump_json(exclude=...)``;
        a property test holds both equal)."""
        fields = dict(self.__dict__)  # the fields, in their declared order (the JSON's)
        del fields["change"]
        fields["actor"] = self.actor.__dict__
        fields["actors"] = [{**contributor.__dict__, "actor": contributor.actor.__dict__} for contributor in self.actors]
        try:
            return orjson.dumps(fields)
        except TypeError:  # a value orjson refuses (a lone surrogate): pydantic's own way, and its error
            return self.model_dump_json(exclude={"change"}).encode()

    def id_material(self) -> Any:
        base = [self.change.event_id, self.evidence, round(self.confidence, 3)]
        if len(self.actors) < 2:  # the ids of single-author changes stay what they were
            return base
        return [*base, [[c.actor.arn or c.actor.name, c.share, c.evidence] for c in self.actors]]


class MetricSample(BaseModel):
    """What the metrics collector learnt of one resource: ``values`` by metric name (and the
    counts of who uses it, ``used_by.<type>``, ``present.<type>``), ``missing`` what it could
    not learn, and why (throttled, no datapoints, a type not scanned completely)."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    uid: str
    values: dict[str, float] = Field(default_factory=dict)
    missing: dict[str, str] = Field(default_factory=dict)


class MetricsObservation(Event):
    """A page of metric samples of one account/region/type shard, over ``[window_start, observed_at)``.

    Travels on the observations topic under the shard key, so it meets its resources'
    versions in one partition; kept beside them, never in their versions (no drift).
    """

    ce_type: ClassVar[str] = "elava.metrics"
    collection_id: str
    account: str
    region: str
    type: str
    shard: str
    page: int = 0
    window_start: datetime
    observed_at: datetime
    samples: list[MetricSample]
    shard_buckets: int | None = None

    def id_material(self) -> Any:
        return [self.collection_id, self.shard, self.page]


class PolicyDecision(Event):
    ce_type: ClassVar[str] = "elava.policy-decision"
    uid: str
    policy: str
    # "error": the policy failed or ran past policies.evaluation_timeout on this change;
    # messages say why. The change itself was published regardless.
    decision: Literal["allow", "deny", "action", "error"]
    messages: list[str] = Field(default_factory=list)
    cause_id: str
    decided_at: datetime

    def id_material(self) -> Any:
        return [self.uid, self.policy, self.decision, self.cause_id]


ActionMode = Literal["monitor", "notify", "enforce"]


class ActionRequest(Event):
    """What a policy asks for. ``mode`` is the effective mode (global ceiling and the policy's)."""

    ce_type: ClassVar[str] = "elava.action"
    uid: str
    type: str
    account: str
    region: str
    action: str  # tag, notify, stop, delete, ... (see the executor's catalogue)
    params: dict[str, Any] = Field(default_factory=dict)
    mode: ActionMode = "monitor"
    destructive: bool = False
    policy: str
    reason: str
    decision_id: str
    resource_version: int
    requested_at: datetime
    # The chain behind the request, and what the policy saw besides the resource
    # ({"change": ..., "attribution": ...} of its input): the executor asks the policy
    # again with the resource as AWS shows it when it acts.
    change_id: str = ""
    attribution_id: str = ""
    context: dict[str, Any] = Field(default_factory=dict)

    def id_material(self) -> Any:
        # Re-evaluating the same version (e.g. after a better attribution) asks for the
        # same action again under the same id: the executor does it once.
        return [self.uid, self.action, self.params, self.mode, self.policy, self.resource_version]


ActionStatus = Literal[
    "monitored",  # monitor mode: recorded, nothing sent, nothing changed
    "notified",  # a notification went out; nothing changed
    "scheduled",  # destructive: announced, waits for its grace period
    "dry_run",  # enforce, but the executor is in dry-run: what would have been done
    "executed",  # done in AWS
    "skipped",  # not done: protected, already in the wanted state, or gone
    "cancelled",  # the policy no longer asks for it, or the resource is protected, changed or gone
    "failed",
    "rejected",  # not a request the executor will act on (unsigned, unknown policy, false claims)
]


class AwsCall(BaseModel):
    """One AWS request the executor made for an action (find it in CloudTrail by its id)."""

    model_config = ConfigDict(frozen=True)
    operation: str  # service:operation, e.g. ec2:stop_instances
    request_id: str



class ActionResult(Event):
    ce_type: ClassVar[str] = "elava.action-result"
    request_id: str
    uid: str
    action: str
    policy: str = ""
    status: ActionStatus
    dry_run: bool = True
    detail: str = ""
    not_before: datetime | None = None
    finished_at: datetime
    # The audit trail: change -> attribution -> decision -> request (request_id) -> this
    # result; who acted in AWS, with which calls; which key signed the request.
    change_id: str = ""
    attribution_id: str = ""
    decision_id: str = ""
    principal: str | None = None
    aws_calls: list[AwsCall] = Field(default_factory=list)
    signed_by: str | None = None

    def id_material(self) -> Any:
        return [self.request_id, self.status]


# The topic whose published JSON Schema (docs/schemas/<topic>.json, streams/schemas.py)
# describes each event type; a scan marker also travels on observations, whose schema
# is the union of a page's and a marker's.
VALUE_TOPIC = {
    "elava.observation": "observations", "elava.scan-marker": "scan-markers", "elava.scan-request": "scan-requests",
    "elava.cloudtrail": "cloudtrail", "elava.change": "changes", "elava.attributed-change": "attributed-changes",
    "elava.drift": "drift", "elava.pattern": "patterns", "elava.waste": "waste",
    "elava.policy-decision": "policy-decisions", "elava.metrics": "observations",
    "elava.action": "actions", "elava.action-result": "action-results",
}


def dataschema(topic: str) -> str:
    """The ``$id`` of a topic's value schema, sent as ``ce_dataschema``; its version is the schema_version."""
    return f"urn:elava:schema:{topic}:v{SCHEMA_VERSION}"


def cloudevent_headers(event: Event, source: str) -> list[tuple[str, bytes]]:
    """CloudEvents Kafka binding (binary mode) headers for one event."""
    topic = VALUE_TOPIC.get(event.ce_type)
    return binding_headers(event.event_id, event.ce_type, source, dataschema(topic) if topic else None)


def binding_headers(ce_id: str, ce_type: str, source: str, schema: str | None) -> list[tuple[str, bytes]]:
    kind, origin, tail = _fixed_headers(ce_type, source, schema)
    return [_SPECVERSION, ("ce_id", ce_id.encode()), kind, origin, ("ce_time", utcnow().isoformat().encode()),
            *tail, *trace_headers()]  # W3C traceparent of the span that made the event (elava/telemetry)


_SPECVERSION = ("ce_specversion", b"1.0")
# On an attributed change published again because CloudTrail re-attributed its version: the drift
# stage does not report its drift again under ``analyzer.drift.attribution: false``.
REATTRIBUTED = ("elava_reattributed", b"1")


@functools.lru_cache(maxsize=1024)
def _fixed_headers(ce_type: str, source: str, schema: str | None) -> tuple[tuple[str, bytes], ...]:
    """The headers every event of one type from one source shares, encoded once (a few kinds
    per process; the worker sends several events per change)."""
    tail = (("content-type", b"application/json"),) + ((("ce_dataschema", schema.encode()),) if schema else ())
    return ("ce_type", ce_type.encode()), ("ce_source", source.encode()), tail
