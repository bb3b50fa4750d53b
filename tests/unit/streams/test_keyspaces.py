"""The store owns every keyspace, and retention keeps each for as long as it says."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

from elava.events import Actor, TouchedResource, TrailEvent
from elava.parts import split
from elava.settings import PatternSettings, WasteSettings
from streams.analyzers.waste.analyzer import WasteAnalyzer
from streams.chunks import PartAssembler
from streams.drivers.worker.input_gaps import record_applied
from streams.inputs import parse_observation_message
from streams.layout import align_layout
from streams.process import PartitionProcessor
from streams.store.evidence import EvidenceLog
from streams.store.keyspaces import EVIDENCE_KEPT, EVIDENCE_LOOKBACK, EVIDENCE_SLACK, KEYSPACES, keyspace_of
from streams.store.kv import MemoryKV
from streams.store.retention import enforce_retention
from streams.store.versioned import VersionStore, to_micros
from tests.unit.streams.analyzers.waste_estate import Estate
from tests.unit.streams.analyzers.waste_estate import resource as waste_resource
from tests.unit.streams.fixtures import ACCOUNT, BUCKETS, REGION, T0, marker, page, sg, shard

DAY = timedelta(days=1)
WINDOW = timedelta(days=30)
BIG = sg("sg-big", ingress=[{"cidr": f"10.0.{n}.0/24", "note": "x" * 100} for n in range(40)])


def trail(group: str, at, event_id: str = "e1") -> TrailEvent:
    return TrailEvent(trail_event_id=event_id, event_name="AuthorizeSecurityGroupIngress",
                      event_source="ec2.amazonaws.com", event_time=at, account=ACCOUNT, region=REGION,
                      actor=Actor(type="IAMUser", name="alice", kind="human"),
                      resource=TouchedResource(uid=sg(group).uid, type="ec2.security-group", id=group))


def parts_of(event, scan: str):
    return [parse_observation_message(event.shard.encode(), data, headers)
            for data, headers in split(event, event.to_bytes(), 500, "test", scan)]


def everything(kv: MemoryKV, now) -> VersionStore:
    """A store that went through each kind of input, and retention with its cursors."""
    store = VersionStore(kv)
    align_layout(store, BUCKETS)
    processor = PartitionProcessor(store, patterns=PatternSettings(short_lived="3h"))  # sg-1: a finding kept
    processor.process(page([sg("sg-1")], now, scan="s1"))
    processor.process(trail("sg-1", now + timedelta(minutes=1)))
    processor.process(trail("sg-2", now + timedelta(minutes=1), "e2"))
    processor.process(page([sg("sg-1", ingress=[{"cidr": "0.0.0.0/0"}])], now + timedelta(hours=1), scan="s2"))
    processor.process(marker(shard(sg("sg-1")), [], now + timedelta(hours=2), scan="s3"))
    PartAssembler(kv, clock=lambda: now).complete(parts_of(page([BIG], now, scan="s4"), "s4")[0])
    waste_inputs(store, now)
    record_applied(kv, SimpleNamespace(topic="elava.observations", partition=0, offset=7))  # the worker's
    enforce_retention(store, WINDOW, now + timedelta(hours=3), budget=1)  # stops early: leaves cursors
    return store


def waste_inputs(store: VersionStore, now) -> None:
    """A volume found unattached, then gone (its finding resolved), and metric samples of it."""
    estate = Estate()
    estate.store, estate.processor = store, PartitionProcessor(store)
    estate.analyzer = WasteAnalyzer(store, WasteSettings(idle_threshold="0s"))
    idle = waste_resource("ec2.volume", "vol-1", state="available", create_time=now.isoformat())
    assert estate.scan(now, "ec2.volume", [idle])[0].status == "open"
    estate.metrics(now + timedelta(minutes=5), "ec2.volume", {idle.uid: {"used_by.ec2.snapshot": 0}})
    assert estate.scan(now + timedelta(hours=2), "ec2.volume", [])[0].status == "resolved"


def test_every_key_the_pipeline_and_retention_write_is_in_a_declared_keyspace():
    kv = MemoryKV()
    everything(kv, T0)
    prefixes = {key[:1] for key in kv._data}
    assert {b"h", b"v", b"t", b"k", b"m", b"s", b"e", b"p", b"c", b"l", b"w", b"x", b"y", b"f", b"r", b"j", b"o"} <= prefixes  # each reached
    assert [key for key in kv._data if keyspace_of(key) is None] == []


def test_every_keyspace_that_grows_with_the_estate_expires():
    growing = {b"h", b"v", b"t", b"k", b"m", b"e", b"p", b"w", b"x", b"y", b"f", b"r"}
    assert {prefix for prefix, space in KEYSPACES.items() if space.expires} == growing


def test_retention_leaves_only_the_bounded_keyspaces_once_everything_is_old():
    kv = MemoryKV()
    store = everything(kv, T0)
    for _ in range(20):  # bounded steps (budget 1 above), continued from their cursors
        enforce_retention(store, WINDOW, T0 + 60 * DAY, budget=5)
    left = {keyspace_of(key).name for key in kv._data}
    assert left == {"last scan per shard", "cursors", "shard layout", "waste judgement per shard",
                    "last input offset applied"}


def test_evidence_goes_when_it_can_no_longer_explain_a_version():
    store = VersionStore(MemoryKV())
    processor = PartitionProcessor(store)
    processor.process(trail("sg-old", T0, "old"))
    processor.process(trail("sg-new", T0 + 2 * DAY, "new"))
    now = T0 + 2 * DAY + EVIDENCE_KEPT
    report = enforce_retention(store, WINDOW, now)
    assert report.evidence_dropped == 1
    log = EvidenceLog(store.kv)
    assert list(log.between(sg("sg-old").uid, 0, to_micros(now))) == []
    assert len(list(log.between(sg("sg-new").uid, 0, to_micros(now)))) == 1  # exactly EVIDENCE_KEPT old: kept


def test_the_evidence_sweep_is_bounded_and_continues_where_it_stopped():
    store = VersionStore(MemoryKV())
    processor = PartitionProcessor(store)
    for n in range(5):
        processor.process(trail(f"sg-{n}", T0, f"e{n}"))
    later = T0 + 2 * DAY
    assert [enforce_retention(store, WINDOW, later, budget=2).evidence_dropped for _ in range(4)] == [2, 2, 1, 0]
    assert not any(key.startswith(b"e") for key in store.kv._data)


def test_parts_of_a_shard_never_scanned_again_go_with_the_window():
    kv = MemoryKV()
    parts = parts_of(page([BIG], T0, scan="abandoned"), "abandoned")
    PartAssembler(kv, clock=lambda: T0).complete(parts[0])
    recent = parts_of(page([BIG], T0 + 20 * DAY, scan="recent"), "recent")
    PartAssembler(kv, clock=lambda: T0 + 20 * DAY).complete(recent[0])

    report = enforce_retention(VersionStore(kv), WINDOW, T0 + 31 * DAY)

    assert report.parts_dropped == 2  # the abandoned scan's part and its arrival time
    assert {key.split(b"\x00")[2] for key in kv._data if key.startswith(b"p")} == {b"recent"}


def test_parts_stored_without_an_arrival_time_get_one_and_go_a_window_later():
    kv = MemoryKV()
    PartAssembler(kv, clock=lambda: T0).complete(parts_of(page([BIG], T0, scan="legacy"), "legacy")[0])
    for key in [key for key in kv._data if key.endswith(b"legacy\x00\x00")]:
        del kv._data[key]  # as an older version stored it
    store = VersionStore(kv)
    assert enforce_retention(store, WINDOW, T0 + 100 * DAY).parts_dropped == 0  # dated now...
    assert enforce_retention(store, WINDOW, T0 + 131 * DAY).parts_dropped == 2  # ...and gone a window later


def test_the_docs_say_how_long_evidence_is_kept():
    docs = (Path(__file__).parents[3] / "docs" / "attribution.md").read_text()
    hours, minutes = EVIDENCE_LOOKBACK // timedelta(hours=1), EVIDENCE_SLACK // timedelta(minutes=1)
    kept = re.search(r"kept (\d+) h (\d+) min after the call", docs)
    assert kept is not None and (int(kept[1]), int(kept[2])) == (hours + 0, minutes), "docs/attribution.md"
