"""Turn observation pages and scan markers into versions and change events.

Pure core: no Kafka, no AWS. Both drivers (embedded and Faust) reach it through the
partition processor (streams/process.py), which attributes each decision before it is
stored.

Redelivery is safe. After a crash the worker re-reads input from its last committed
offset, while the store may already hold what came later. An input that caused the
head, or is older than the head, is a replay: it re-emits the change it made (same
event id) and writes nothing new, so the versions never flip back and forth and no
change event is lost between "stored" and "published".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from elava.catalogue.relations import edge_fields, edges_of
from elava.events import ChangeEvent, FieldChange, Observation, Resource, ScanMarker
from streams.diff import diff_content
from streams.pages import RawPage, json_form, raw_content_hash, validate_resource
from streams.store.records import RecordLead, Version
from streams.store.versioned import VersionStore, from_micros, to_micros


class Unread:
    """A head lead not read yet (``None`` means read, and there is no head)."""


UNREAD = Unread()
# A resource of a page to decide: its head lead as screened, and its content hash if computed already.
Sighting = tuple[Resource, RecordLead | None | Unread, str | None]


@dataclass(frozen=True, slots=True)
class Observed:
    """What observing one resource decided, in memory: the version to store (or, for a
    replay, the one stored before), the head it replaces, and the change it makes."""

    version: Version
    previous: Version | None  # the head before this version (decoded once); None for a creation
    change: ChangeEvent
    replay: bool = False  # stored before: written again as it was, never changed
    is_head: bool = True

    def attributed(self, record: dict[str, Any] | None) -> Observed:
        """The same decision with an attribution to store with the version (not for a replay)."""
        if self.replay:
            return self
        return Observed(self.version.but(attribution=record), self.previous, self.change, self.replay, self.is_head)


class Observer:
    """Decides what pages and scan markers change; ``store`` writes a decision.

    ``decide`` and ``deletions`` only read. The partition processor attributes each
    decision before it is stored (one write per version); ``observe`` and
    ``close_scan`` store decisions as they are, for callers that attribute nothing.
    """

    def __init__(self, store: VersionStore) -> None:
        self.store = store
        self._moment: datetime | None = None  # the last page's observed_at, converted once per page
        self._micros = 0

    def _micros_of(self, moment: datetime) -> int:
        if moment is not self._moment:
            self._moment, self._micros = moment, to_micros(moment)
        return self._micros

    def observe(self, page: Observation) -> list[ChangeEvent]:
        changes = []
        for resource, lead, content_hash in self.with_heads(page):  # the page's heads read together
            observed = self.decide(resource, page, lead, content_hash)
            if observed is not None:
                self.store_version(observed)
                changes.append(observed.change)
        return changes

    def close_scan(self, marker: ScanMarker) -> list[ChangeEvent]:
        """A complete, successful scan turns the unseen into deletions; then it is recorded."""
        deletions = list(self.deletions(marker))
        for observed in deletions:
            self.store_version(observed)
        self.record_scan(marker)
        return [observed.change for observed in deletions]

    def store_version(self, observed: Observed) -> bytes | None:
        """A new version becomes the head (its record as written is returned); a replayed one is
        written again with the same bytes (in the worker a local write may have outlived its
        changelog record)."""
        if observed.replay:
            self.store.rewrite(observed.version, is_head=observed.is_head)
            return None
        return self.store.append(observed.version, observed.previous)  # its edges are indexed already

    def decide(self, resource: Resource, page: Observation, lead: RecordLead | None | Unread = UNREAD,
               content_hash: str | None = None, from_json: bool = False) -> Observed | None:
        """What ``resource`` seen on ``page`` changes (None: nothing); reads the head once.

        ``lead``: its head's leading fields when ``screen_with_heads`` read them for this page already;
        ``content_hash``: ``resource.content_hash()`` when the screening computed it already;
        ``from_json``: the resource's values are JSON's already (a page read from Kafka, or a
        collector's page: collectors/sink.py), so its stored form needs no conversion (``json_form``).
        """
        valid_from = self._micros_of(page.observed_at)
        if isinstance(lead, Unread):
            lead = self.store.head_lead(resource.uid)
        if _replays(lead, page.event_id, valid_from):
            return self._replay(lead.full(), page.event_id)
        content_hash = content_hash or resource.content_hash()
        if _unchanged(lead, content_hash):
            return None  # a read, no write, and no decoding of the stored record
        head = lead.full() if lead is not None else None
        if head is None or head.deleted:
            kind, changes = "created", []
        else:
            kind, changes = "modified", diff_content(_content_of(head), resource.content())
        diff = [c.model_dump(mode="json") for c in changes]
        stored = json_form(resource) if from_json else resource.model_dump(mode="json")
        version = Version(
            uid=resource.uid, version=(head.version + 1) if head else 1, kind=kind,
            valid_from=max(valid_from, head.valid_from if head else valid_from),
            hash=content_hash, cause=page.event_id, shard=page.shard,
            resource=stored, diff=diff, edges=_edges(stored, head, diff),  # what it uses, kept with the version
        )
        return Observed(version, head, change_from_version(version, resource, changes))

    def with_heads(self, page: Observation) -> list[Sighting]:
        """The resources of a validated ``page``, each with its head lead, read for the whole page
        in one call (a uid seen twice is left UNREAD: its first sighting may change its head), and
        its content hash where a head is compared with it."""
        leads = self._leads_of([resource.uid for resource in page.resources])
        valid_from = to_micros(page.observed_at)
        return self._with_whole_heads([
            (resource, lead, None if isinstance(lead, Unread) or lead is None or _replays(lead, page.event_id, valid_from)
             else resource.content_hash())
            for resource, lead in zip(page.resources, leads, strict=True)])

    def _with_whole_heads(self, sightings: list[Sighting]) -> list[Sighting]:
        """``sightings`` with the whole version of each head ``decide`` will read (a change, a
        replay), read together: a head holds only its version's leading fields."""
        wanted = [index for index, (_, lead, content_hash) in enumerate(sightings)
                  if isinstance(lead, RecordLead) and lead.source is not None and not _unchanged(lead, content_hash)]
        if not wanted:
            return sightings
        whole = self.store.whole_leads([sightings[index][1] for index in wanted])  # type: ignore[misc]
        sightings = list(sightings)
        for index, lead in zip(wanted, whole, strict=True):
            resource, _, content_hash = sightings[index]
            sightings[index] = (resource, lead, content_hash)
        return sightings

    def _leads_of(self, uids: list[str]) -> list[RecordLead | None | Unread]:
        """The head lead of each uid of a page, read together; UNREAD for a uid the page holds
        twice: its head changes within the page, so ``decide`` reads it when it gets there."""
        repeated = _repeated(uids)
        leads = self.store.head_leads_of(uids)
        return [UNREAD if uid in repeated else lead for uid, lead in zip(uids, leads, strict=True)]

    def screen_with_heads(self, page: RawPage) -> list[Sighting]:
        """The resources of ``page`` that ``decide`` must see, validated, in order, each with the
        head lead read to screen it (for ``decide``, so it does not read it again); reads only.

        A resource that ``decide`` would find unchanged (its raw content hash is its head's,
        the page replays nothing for it) is left out unvalidated: its content is that of a
        head validated when stored (streams/pages.py). Every other one is validated here,
        before anything of the page is written. A uid seen twice on the page is always kept:
        its second sighting is decided against the head its first one makes. Each comes with the
        content hash the screening computed for it (None where it computed none), which ``decide``
        then need not compute again.

        Should a resource fail validation, the page is validated whole as before: its
        SchemaError (nothing applied), or, were pydantic to read the bytes otherwise, all of it.
        """
        header = page.header
        valid_from = to_micros(header.observed_at)
        # Read together: the page writes nothing until every resource is screened.
        leads = self._leads_of([resource["uid"] for resource in page.resources])
        kept: list[Sighting] = []
        try:
            for raw, lead in zip(page.resources, leads, strict=True):
                if isinstance(lead, Unread):  # a uid seen twice: always kept, decided when it gets there
                    kept.append((validate_resource(raw), UNREAD, None))
                    continue
                content_hash = _screened_hash(lead, raw, header.event_id, valid_from)
                if not _unchanged(lead, content_hash):  # no other uid's write changes this head
                    kept.append((validate_resource(raw), lead, content_hash))
        except ValidationError:
            return [(resource, UNREAD, None) for resource in page.validated().resources]
        return self._with_whole_heads(kept)

    def deletions(self, marker: ScanMarker) -> Iterator[Observed]:
        """The deletions a marker infers (only from a complete, successful scan); reads only.

        Record the marker (``record_scan``) after storing them: until then the previous
        scan is what bounds when changes happened.
        """
        if marker.status != "ok":
            return
        seen, started = set(marker.ids), to_micros(marker.started_at)
        stale = self._newer_scan_recorded(marker)
        for uid, resource_id in list(self.store.shard_member_ids(marker.shard)):
            if resource_id in seen:
                continue  # seen by this scan: nothing to delete, nor a deletion of it to replay
            observed = self._maybe_delete(uid, seen, started, marker, stale)
            if observed is not None:
                yield observed

    def _newer_scan_recorded(self, marker: ScanMarker) -> bool:
        """A later scan of the shard was closed already (e.g. this marker is replayed from the DLQ).

        What this marker did not see may have been seen since, unchanged (no write), so
        its absence is no longer news: the marker may re-emit what it deleted, nothing more.
        """
        last = self.store.last_scan(marker.shard)
        return last is not None and datetime.fromisoformat(last["started_at"]) > marker.started_at

    def record_scan(self, marker: ScanMarker) -> None:
        last = self.store.last_scan(marker.shard)
        if last is None or datetime.fromisoformat(last["started_at"]) <= marker.started_at:
            self.store.record_scan(marker.shard, marker.model_dump(mode="json", exclude={"ids"}))

    def _maybe_delete(self, uid: str, seen: set[str], started: int, marker: ScanMarker,
                      stale: bool) -> Observed | None:
        # Most members were seen: read their heads' leading fields and id only.
        lead = self.store.head_lead(uid)
        if lead is None:
            return None
        if lead.cause == marker.event_id or lead.valid_from > started:
            # Applied before, or changed since this scan listed: only a replay may re-emit.
            return self._replay(lead.full(), marker.event_id)
        if stale or lead.deleted or lead.resource_id() in seen or lead.valid_from == started:
            return None
        head = lead.full()
        # The marker's shard, where its membership is: the head's differs after a layout change
        # (embedded), and the shard's time index must list the deletion (the waste judgement).
        tombstone = Version(
            uid=uid, version=head.version + 1, kind="deleted", valid_from=max(started, head.valid_from + 1),
            hash="", cause=marker.event_id, shard=marker.shard, resource=None,
            diff=[], attribution=None,
        )
        return Observed(tombstone, head, change_from_version(tombstone, _resource_of(head)))

    def _replay(self, head: Version, cause: str) -> Observed | None:
        """The change ``cause`` made to this resource, if any, as stored: re-emitted, not redone."""
        if head.cause == cause:
            version, is_head = head, True
        else:
            version = next((v for v in self.store.versions(head.uid) if v.cause == cause), None)
            is_head = False
        if version is None:
            return None
        before = self.store.get_version(version.uid, version.version - 1) if version.deleted else None
        return Observed(version, before, change_from_version(version, _resource_of(before)),
                        replay=True, is_head=is_head)


def _screened_hash(lead: RecordLead | None, raw: dict[str, Any], event_id: str, valid_from: int) -> str | None:
    """The raw resource's content hash where the screening needs it to compare with its head
    (``decide`` would find it unchanged on it); None for a new resource or a replay."""
    if lead is None or _replays(lead, event_id, valid_from):
        return None
    return raw_content_hash(raw)


def _replays(lead: RecordLead | None, event_id: str, valid_from: int) -> bool:
    """The page applied before (redelivered after a crash) or is older than what we know."""
    return lead is not None and (lead.cause == event_id or valid_from < lead.valid_from)


def _unchanged(lead: RecordLead | None, content_hash: str | None) -> bool:
    return lead is not None and not lead.deleted and lead.hash == content_hash


def _repeated(uids: list[str]) -> set[str]:
    if len(set(uids)) == len(uids):
        return set()
    return {uid for uid, count in Counter(uids).items() if count > 1}


def change_from_version(version: Version, resource: Resource | None,
                        diff: list[FieldChange] | None = None) -> ChangeEvent:
    """The change event for a stored version (the same bytes every time).

    For a deletion ``resource`` is the last version seen alive, so readers know what went.
    ``diff``: the version's diff as the models it was dumped from, when the caller has them.
    """
    snapshot = resource
    if snapshot is None and version.resource is not None:
        snapshot = Resource.model_validate(version.resource)
    subject = snapshot if snapshot is not None else _subject_from_uid(version)
    return ChangeEvent(
        uid=version.uid, type=subject.type, account=subject.account, region=subject.region,
        kind=version.kind, previous_version=version.version - 1 if version.version > 1 else None,
        new_version=version.version, observed_at=from_micros(version.valid_from),
        diff=diff if diff is not None else [FieldChange.model_validate(d) for d in version.diff],
        resource=snapshot, cause_id=version.cause,
    )


def _edges(stored: dict[str, Any], head: Version | None, diff: list[dict[str, Any]]) -> dict[str, list[str]]:
    """What the new version uses: the head's edges when the change touched no attribute they read."""
    if head is None or head.deleted:
        return edges_of(stored)
    read = edge_fields(stored["type"])
    if read is None or any(_touches(change["path"], read) for change in diff):
        return edges_of(stored)
    return head.edges


def _touches(path: str, fields: frozenset[str]) -> bool:
    """Whether a diff path may be inside one of ``fields`` (an attribute named "a.b" counts for "a":
    recomputing is always safe)."""
    return path.startswith("attributes.") and any(
        path == f"attributes.{name}" or path.startswith(f"attributes.{name}.") for name in fields)


def _content_of(version: Version) -> dict:
    """``Resource.content()`` of a stored version, read from its JSON without re-validating it."""
    if not version.resource:
        return {}
    stored = version.resource
    return {"name": stored.get("name"), "tags": stored.get("tags") or {}, "attributes": stored.get("attributes") or {}}


def _resource_of(version: Version | None) -> Resource | None:
    if version is None or version.resource is None:
        return None
    return Resource.model_validate(version.resource)


def _subject_from_uid(version: Version) -> Resource:
    account, region, type_name, _ = (version.shard.split("/") + ["", "", "", ""])[:4]
    return Resource(uid=version.uid, type=type_name, id=version.uid, account=account, region=region)
