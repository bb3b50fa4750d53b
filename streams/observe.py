"""Turn observation pages and scan markers into versions and change events.

Pure core: no Kafka, no AWS. Both drivers (embedded and Faust) call it.

Redelivery is safe. After a crash the worker re-reads input from its last committed
offset, while the store may already hold what came later. An input that caused the
head, or is older than the head, is a replay: it re-emits the change it made (same
event id) and writes nothing new, so the versions never flip back and forth and no
change event is lost between "stored" and "published".
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from elava.catalogue.relations import edges_of
from elava.events import ChangeEvent, FieldChange, Observation, Resource, ScanMarker
from streams.diff import diff_content
from streams.store.versioned import Version, VersionStore, from_micros, to_micros


class Observer:
    """``annotate`` may add to a new version before it is stored (attribution does)."""

    def __init__(self, store: VersionStore, annotate: Callable[[Version], Version] | None = None) -> None:
        self.store = store
        self.annotate = annotate or (lambda version: version)

    def observe(self, page: Observation) -> list[ChangeEvent]:
        changes = []
        valid_from = to_micros(page.observed_at)
        for resource in page.resources:
            change = self._observe_one(resource, page, valid_from)
            if change is not None:
                changes.append(change)
        return changes

    def _observe_one(self, resource: Resource, page: Observation, valid_from: int) -> ChangeEvent | None:
        lead = self.store.head_lead(resource.uid)
        if lead is not None and (lead.cause == page.event_id or valid_from < lead.valid_from):
            # Applied before (redelivery after a crash) or older than what we know.
            return self._replay(lead.full(), page.event_id)
        content_hash = resource.content_hash()
        if lead is not None and not lead.deleted and lead.hash == content_hash:
            return None  # unchanged: a read, no write, and no decoding of the stored record
        head = lead.full() if lead is not None else None
        if head is None or head.deleted:
            kind, diff = "created", []
        else:
            kind = "modified"
            diff = [c.model_dump(mode="json") for c in diff_content(_content_of(head), resource.content())]
        stored = resource.model_dump(mode="json")
        version = Version(
            uid=resource.uid, version=(head.version + 1) if head else 1, kind=kind,
            valid_from=max(valid_from, head.valid_from if head else valid_from),
            hash=content_hash, cause=page.event_id, shard=page.shard,
            resource=stored, diff=diff, edges=edges_of(stored),  # what it uses, kept with the version
        )
        version = self.annotate(version)
        self.store.append(version)
        return change_from_version(version, resource)

    def close_scan(self, marker: ScanMarker) -> list[ChangeEvent]:
        """A complete, successful scan turns the unseen into deletions; then it is recorded."""
        changes = []
        if marker.status == "ok":
            seen, started = set(marker.ids), to_micros(marker.started_at)
            stale = self._newer_scan_recorded(marker)
            for uid in list(self.store.shard_members(marker.shard)):
                change = self._maybe_delete(uid, seen, started, marker, stale)
                if change is not None:
                    changes.append(change)
        # Recorded last: until then the previous scan is what bounds when changes happened.
        self._record_scan(marker)
        return changes

    def _newer_scan_recorded(self, marker: ScanMarker) -> bool:
        """A later scan of the shard was closed already (e.g. this marker is replayed from the DLQ).

        What this marker did not see may have been seen since, unchanged (no write), so
        its absence is no longer news: the marker may re-emit what it deleted, nothing more.
        """
        last = self.store.last_scan(marker.shard)
        return last is not None and datetime.fromisoformat(last["started_at"]) > marker.started_at

    def _record_scan(self, marker: ScanMarker) -> None:
        last = self.store.last_scan(marker.shard)
        if last is None or datetime.fromisoformat(last["started_at"]) <= marker.started_at:
            self.store.record_scan(marker.shard, marker.model_dump(mode="json", exclude={"ids"}))

    def _maybe_delete(self, uid: str, seen: set[str], started: int, marker: ScanMarker,
                      stale: bool) -> ChangeEvent | None:
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
        tombstone = Version(
            uid=uid, version=head.version + 1, kind="deleted", valid_from=max(started, head.valid_from + 1),
            hash="", cause=marker.event_id, shard=head.shard, resource=None,
            diff=[], attribution=None,
        )
        tombstone = self.annotate(tombstone)
        self.store.append(tombstone)
        return change_from_version(tombstone, Resource.model_validate(head.resource))

    def _replay(self, head: Version, cause: str) -> ChangeEvent | None:
        """Re-emit the change ``cause`` made to this resource, if any, writing nothing new.

        The version's bytes are written again: in the worker a local write may have
        outlived its changelog record, and the changelog is what restores the store.
        """
        if head.cause == cause:
            version, is_head = head, True
        else:
            version = next((v for v in self.store.versions(head.uid) if v.cause == cause), None)
            is_head = False
        if version is None:
            return None
        self.store.rewrite(version, is_head=is_head)
        if version.deleted:
            return change_from_version(version, _resource_of(self.store.get_version(version.uid, version.version - 1)))
        return change_from_version(version, None)


def change_from_version(version: Version, resource: Resource | None) -> ChangeEvent:
    """The change event for a stored version (the same bytes every time).

    For a deletion ``resource`` is the last version seen alive, so readers know what went.
    """
    snapshot = resource
    if snapshot is None and version.resource is not None:
        snapshot = Resource.model_validate(version.resource)
    subject = snapshot if snapshot is not None else _subject_from_uid(version)
    return ChangeEvent(
        uid=version.uid, type=subject.type, account=subject.account, region=subject.region,
        kind=version.kind, previous_version=version.version - 1 if version.version > 1 else None,
        new_version=version.version, observed_at=from_micros(version.valid_from),
        diff=[FieldChange.model_validate(d) for d in version.diff],
        resource=snapshot, cause_id=version.cause,
    )


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
