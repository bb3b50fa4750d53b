"""Every output of the partition processor, byte for byte, and every store record, against a
golden file recorded from the change path before it was made one pass (``golden/process_life.json``).

The life is varied: creations, modifications of tags, attributes and edges, redelivered and
older pages, deletions by a scan marker, a re-creation, flapping, and CloudTrail events that
attribute changes (before and after the change they explain). It runs twice, from the
collector's bytes as the worker reads them and from validated pages: both must match.

Recording again (``ELAVA_TEST_RECORD_GOLDEN=1``) is only for a change meant to alter outputs.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from elava.catalogue import registry
from elava.events import (
    Actor,
    AttributedChange,
    ChangeEvent,
    Event,
    Observation,
    Resource,
    ScanMarker,
    TouchedResource,
    TrailEvent,
    digest,
)
from elava.settings import WasteSettings
from elava.sharding import shard_of
from streams.attribution.join import attributed_from_record
from streams.pages import read_page
from streams.process import PartitionProcessor, Produced
from streams.store.keyspaces import HEADS_PREFIX, version_key
from streams.store.kv import MemoryKV
from streams.store.records import StoredRecord, head_record_of
from streams.store.versioned import VersionStore
from streams.waste_stage import waste_findings
from tests.unit.streams.fixtures import ACCOUNT, BUCKETS, REGION, T0

GOLDEN = Path(__file__).parent / "golden" / "process_life.json"
SSH_WORLD = {"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "0.0.0.0/0"}
HOUR = timedelta(hours=1)


def res(type_name: str, rid: str, name: str | None = None, tags: dict | None = None, **attributes) -> Resource:
    uid = registry.get(type_name).uid_for(rid, account=ACCOUNT, region=REGION, partition="aws")
    return Resource(uid=uid, type=type_name, id=rid, account=ACCOUNT, region=REGION, name=name or rid,
                    tags=tags or {}, attributes=attributes)


def group(rid: str, tags: dict | None = None, ingress: list | None = None) -> Resource:
    return res("ec2.security-group", rid, tags=tags, ingress=ingress or [], vpc_id="vpc-1")


def instance(groups: list[str], state: str = "running", subnet: str = "subnet-1", tags: dict | None = None,
             size: str = "t3.micro", rid: str = "i-1") -> Resource:
    return res("ec2.instance", rid, name="web", tags=tags, state=state, instance_type=size, subnet_id=subnet,
               vpc_id="vpc-1", security_groups=groups, volumes=["vol-1"])


def shard(type_name: str) -> str:
    return shard_of(res(type_name, "x").uid, ACCOUNT, REGION, type_name, BUCKETS)


def page(type_name: str, resources: list[Resource], hours: float, scan: str) -> Observation:
    return Observation(scan_id=scan, account=ACCOUNT, region=REGION, type=type_name, shard=shard(type_name),
                       page=0, observed_at=T0 + timedelta(hours=hours), resources=resources)


def marker(type_name: str, seen: list[Resource], hours: float, scan: str) -> ScanMarker:
    ids = sorted(r.id for r in seen)
    started = T0 + timedelta(hours=hours)
    return ScanMarker(scan_id=scan, account=ACCOUNT, region=REGION, type=type_name, shard=shard(type_name),
                      status="ok", error_class=None, count=len(ids), ids_digest=digest(ids), ids=ids,
                      started_at=started, finished_at=started + timedelta(seconds=5))


def trail(name: str, touched: Resource, hours: float, event_id: str, user: str = "alice") -> TrailEvent:
    return TrailEvent(trail_event_id=event_id, event_name=name, event_source="ec2.amazonaws.com",
                      event_time=T0 + timedelta(hours=hours), account=ACCOUNT, region=REGION,
                      actor=Actor(type="IAMUser", name=user, kind="human"),
                      resource=TouchedResource(uid=touched.uid, type=touched.type, id=touched.id))


def sg_life(g: str) -> list[Event]:
    """Security groups: tags and rules change, a redelivery, an older page, a deletion, a re-creation,
    an ownership tag removed."""
    sg = "ec2.security-group"
    created = page(sg, [group("sg-1"), group("sg-2", {"ManagedBy": "terraform"}), group("sg-3")], 0, f"{g}1")
    opened = page(sg, [group("sg-1", ingress=[SSH_WORLD]), group("sg-2", {"ManagedBy": "terraform", "team": "a"}),
                       group("sg-3")], 1, f"{g}2")
    twice = page(sg, [group("sg-3", {"env": "dev"}), group("sg-1"), group("sg-3", {"env": "prod"})], 2, f"{g}3")
    closing = marker(sg, [group("sg-1"), group("sg-3")], 2.1, f"{g}3")
    back = page(sg, [group("sg-1"), group("sg-2", {"ManagedBy": "terraform"}), group("sg-3", {"env": "prod"})],
                3, f"{g}4")
    return [created, trail("AuthorizeSecurityGroupIngress", group("sg-1"), 0.5, "t-1"), opened, opened, created,
            trail("CreateTags", group("sg-2"), 0.8, "t-2", user="bob"), twice, closing, closing, back, back,
            page(sg, [group("sg-2", {"team": "b"})], 3.2, f"{g}5"),  # its owner's tag removed by hand
            trail("RevokeSecurityGroupIngress", group("sg-1"), 1.9, "t-3"),
            trail("DescribeSecurityGroups", group("sg-1"), 1.95, "t-4"), *flapping(sg)]


def flapping(sg: str) -> list[Event]:
    """A rule opened and closed again and again within the hour."""
    return [page(sg, [group("sg-4", ingress=[SSH_WORLD] if n % 2 else [])], 3.5 + n * 0.1, f"f{n}") for n in range(5)]


def schedule() -> list[Event]:
    """An instance stopped at the same hour three days running."""
    hours = [20, 24.2, 32, 48.2, 56, 72.2]
    return [page("ec2.instance", [instance(["sg-1"], state="running" if n % 2 == 0 else "stopped", rid="i-2")],
                 at, f"d{n}") for n, at in enumerate(hours)]


def instance_life() -> list[Event]:
    """An instance: edges added and removed, flapping, stop/start, short life, re-creation."""
    ec2 = "ec2.instance"
    states = [instance(["sg-1"]), instance(["sg-1", "sg-2"]), instance(["sg-1", "sg-2"], size="t3.large"),
              instance(["sg-1"], subnet="subnet-2"), instance(["sg-1"], state="stopped", subnet="subnet-2"),
              instance(["sg-1"], state="running", subnet="subnet-2", tags={"owner": "x"}),
              instance(["sg-1"], state="stopped", subnet="subnet-2", tags={"owner": "y"}),
              instance(["sg-1"], state="running", subnet="subnet-2", tags={"owner": "x"})]
    inputs: list[Event] = [trail("ModifyInstanceAttribute", states[0], 4.5, "t-5")]
    for n, resource in enumerate(states):
        inputs.append(page(ec2, [resource], 4 + n * 0.25, f"i{n}"))
    inputs += [page(ec2, [states[3]], 4.1, "old"),  # older than the head
               marker(ec2, [], 6.5, "gone"), page(ec2, [instance(["sg-3"])], 7, "again"),
               trail("RunInstances", states[0], 6.9, "t-6", user="carol"), marker(ec2, [], 7.5, "gone2"),
               *schedule()]
    return inputs


def life() -> list[Event]:
    return [*sg_life("s"), *instance_life()]


def run(inputs: list[Event], from_bytes: bool) -> dict:
    kv = MemoryKV()
    store = VersionStore(kv)
    processor, outputs, handed = PartitionProcessor(store), [], []
    for event in inputs:
        read = read_page(event.to_bytes()) if from_bytes and isinstance(event, Observation) else event
        produced = processor.process(read)
        produced.waste.extend(waste_findings(store, WasteSettings(), event))
        # What the worker publishes and the embedded driver hands its policies: the same bytes.
        assert produced.attributed_bytes() == [attributed.to_bytes() for attributed in produced.attributed]
        handed.extend(_as_handed_to_policies(produced, kv))
        outputs.append([f"{out.ce_type} {_bytes(out, produced).decode()}" for out in produced.events()])
    # Both ways a scan hands a change to its policies occur: a new version's record, and (a
    # re-attribution by a later trail event, a deletion) the change's own bytes.
    assert {type(item) for item in handed} == {StoredRecord, bytes}
    return {"outputs": outputs, "store": {key.hex(): value.decode(errors="replace") for key, value in sorted(kv._data.items())}}


def _as_handed_to_policies(produced: Produced, kv: MemoryKV) -> list[StoredRecord | bytes]:
    """What a scan hands its policies' process: each attributed change rebuilds from it as made."""
    items = produced.policy_items()
    for attributed, item in zip(produced.attributed, items, strict=True):
        if isinstance(item, StoredRecord):  # the record as written, rebuilt to the same change and bytes
            assert item.data == kv.get(version_key(item.uid, attributed.change.new_version))
            rebuilt = attributed_from_record(item)
        else:
            rebuilt = AttributedChange.from_bytes(item)
        assert rebuilt == attributed
        assert rebuilt.to_bytes() == attributed.to_bytes()
    return items


def _bytes(event: Event, produced: Produced) -> bytes:
    """An output's bytes; a change's also as the worker writes them (from its version's stored form)."""
    data = event.to_bytes()
    if isinstance(event, ChangeEvent) and event.event_id in produced.stored:
        assert event.to_bytes(*produced.stored[event.event_id]) == data
    return data


@pytest.mark.parametrize("from_bytes", [True, False], ids=["from-bytes", "validated"])
def test_every_output_and_store_record_is_as_before(from_bytes):
    made = run(life(), from_bytes)
    if os.environ.get("ELAVA_TEST_RECORD_GOLDEN") and from_bytes:
        GOLDEN.write_bytes(orjson.dumps(made, option=orjson.OPT_INDENT_2))
    golden = orjson.loads(GOLDEN.read_bytes())
    for index, (got, want) in enumerate(zip(made["outputs"], golden["outputs"], strict=True)):
        assert got == want, f"input {index}"
    assert made["store"] == _heads_as_pointers(golden["store"])


def _heads_as_pointers(store: dict[str, str]) -> dict[str, str]:
    """The golden store, recorded when a head held its whole version, with each such head as it
    is written now: the leading fields of that same version (``head_record``)."""
    heads = {key: value for key, value in store.items()
             if bytes.fromhex(key).startswith(HEADS_PREFIX) and '"resource":' in value}
    return {**store, **{key: head_record_of(bytes.fromhex(key)[len(HEADS_PREFIX):].decode(), value.encode()).decode()
                        for key, value in heads.items()}}


def test_the_golden_life_covers_every_kind_of_output():
    golden = orjson.loads(GOLDEN.read_bytes())
    lines = [line for outputs in golden["outputs"] for line in outputs]
    assert {line.split(" ", 1)[0] for line in lines} == {
        "elava.change", "elava.attributed-change", "elava.drift", "elava.pattern"}
    text = "\n".join(lines)
    for pattern in ("recreated", "short-lived", "flapping", "schedule"):
        assert f'"pattern":"{pattern}"' in text, pattern
    for needle in ('"kind":"created"', '"kind":"modified"', '"kind":"deleted"', '"method":"cloudtrail"',
                   '"out_of_band":true', '"security-groups":['):
        assert needle in text or any(needle in value for value in golden["store"].values()), needle
