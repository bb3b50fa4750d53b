"""What `elava drift`, `elava patterns` and /v1/drift, /v1/patterns answer, from a store
built by the partition processor: stored drift and patterns, fleet patterns over a window,
and retention taking findings with their versions."""

from datetime import timedelta

from elava.analyzer_events import DriftEvent, PatternEvent
from elava.settings import AnalyzerSettings, PatternSettings
from streams.analyzers.reports import drift_report, pattern_report
from streams.process import PartitionProcessor
from streams.store.api import answer
from streams.store.kv import MemoryKV
from streams.store.queries import TemporalQueries
from streams.store.retention import enforce_retention
from streams.store.versioned import VersionStore
from tests.unit.streams.fixtures import ACCOUNT, REGION, T0, page, sg

SSH = {"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "0.0.0.0/0"}
OFFICE = {"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr": "10.0.0.0/8"}
HOUR = timedelta(hours=1)


def built():
    """sg-1 (terraform) opened to the world by hand; sg-2's rule changed (low)."""
    store = VersionStore(MemoryKV())
    processor = PartitionProcessor(store)
    terraform = {"ManagedBy": "terraform"}
    processor.process(page([sg("sg-1", terraform)], T0, scan="a"))
    processor.process(page([sg("sg-1", terraform, ingress=[SSH])], T0 + HOUR, scan="b"))
    processor.process(page([sg("sg-2")], T0, scan="c"))
    processor.process(page([sg("sg-2", ingress=[OFFICE])], T0 + 2 * HOUR, scan="d"))
    return store


def test_drift_is_read_back_by_window_severity_and_type():
    store = built()
    every = drift_report(store, T0, T0 + 3 * HOUR)
    assert [(d.uid.rsplit("/", 1)[-1], d.severity, d.out_of_band) for d in every] == [
        ("sg-1", "critical", True), ("sg-2", "low", False)]
    assert [d.uid for d in drift_report(store, T0, T0 + 3 * HOUR, "high")] == [sg("sg-1").uid]
    assert drift_report(store, T0, T0 + 3 * HOUR, type_glob="s3.*") == []
    assert len(drift_report(store, T0, T0 + 3 * HOUR, type_glob="ec2.*")) == 2
    assert [d.uid for d in drift_report(store, T0 + 90 * timedelta(minutes=1), T0 + 3 * HOUR)] == [sg("sg-2").uid]


def test_the_api_answers_drift_and_the_history_carries_it():
    q = TemporalQueries(built())
    status, rows = answer("/v1/drift", q, {"since": T0.isoformat(), "until": (T0 + 3 * HOUR).isoformat(),
                                           "severity": "critical"})
    assert status == 200 and [(r["severity"], r["out_of_band"], r["owner"]) for r in rows] == [
        ("critical", True, "terraform")]
    assert answer("/v1/drift", q, {"severity": "dire"})[0] == 400
    status, history = answer("/v1/history", q, {"uid": sg("sg-1").uid})
    assert [(v["version"], (v["drift"] or {}).get("severity")) for v in history] == [(1, None), (2, "critical")]


def test_retention_takes_drift_with_its_versions():
    store = VersionStore(MemoryKV())
    processor = PartitionProcessor(store)
    for hour, rules in enumerate([[], [OFFICE], [OFFICE, SSH]]):
        processor.process(page([sg("sg-1", ingress=rules)], T0 + hour * HOUR, scan=f"s{hour}"))
    window = (T0, T0 + 5 * HOUR)
    assert [d.version for d in drift_report(store, *window)] == [2, 3]
    enforce_retention(store, HOUR, T0 + 5 * HOUR)  # v3 was valid at the window's start: kept; v1, v2 dropped
    assert [v.version for v in store.versions(sg("sg-1").uid)] == [3]
    assert [(d.version, d.severity) for d in drift_report(store, *window)] == [(3, "critical")]  # none outlives its version


def instance(ident, name="web"):
    from elava.events import Resource

    return Resource(uid=f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{ident}", type="ec2.instance", id=ident,
                    account=ACCOUNT, region=REGION, name=name, attributes={"state": "running"})


def test_a_resource_recreated_under_its_name_with_a_new_id_is_found_over_the_window():
    from elava.events import Observation, ScanMarker, digest
    from elava.sharding import shard_of

    store = VersionStore(MemoryKV())
    processor = PartitionProcessor(store)
    old, new = instance("i-old"), instance("i-new")

    def observed(r, at, scan):
        processor.process(Observation(scan_id=scan, account=ACCOUNT, region=REGION, type=r.type,
                                      shard=shard_of(r.uid, ACCOUNT, REGION, r.type, 4), page=0, observed_at=at,
                                      resources=[r]))

    observed(old, T0, "a")
    observed(new, T0 + HOUR, "b")  # create before destroy
    shard = shard_of(old.uid, ACCOUNT, REGION, old.type, 4)
    seen = [new] if shard_of(new.uid, ACCOUNT, REGION, new.type, 4) == shard else []
    processor.process(ScanMarker(scan_id="c", account=ACCOUNT, region=REGION, type=old.type, shard=shard, status="ok",
                                 count=len(seen), ids_digest=digest([r.id for r in seen]), ids=[r.id for r in seen],
                                 started_at=T0 + HOUR + timedelta(minutes=5), finished_at=T0 + 2 * HOUR))
    [found] = [p for p in pattern_report(store, T0, T0 + 3 * HOUR) if p.pattern == "recreated"]
    assert (found.uid, found.subject) == (new.uid, "name web")
    assert [(e.uid, e.kind) for e in found.evidence] == [(old.uid, "deleted"), (new.uid, "created")]
    assert pattern_report(store, T0, T0 + 3 * HOUR) == pattern_report(store, T0, T0 + 3 * HOUR)  # same ids


def test_a_burst_is_many_resources_changed_by_one_actor_as_cloudtrail_names_them():
    from elava.events import Actor, TouchedResource, TrailEvent

    store = VersionStore(MemoryKV())
    processor = PartitionProcessor(store)
    bob = Actor(type="IAMUser", arn=f"arn:aws:iam::{ACCOUNT}:user/bob", name="bob", kind="human", via="cli")
    groups = [sg(f"sg-{i}") for i in range(4)]
    for group in groups:
        processor.process(page([group], T0, scan=f"a-{group.id}"))
    for i, group in enumerate(groups):
        at = T0 + HOUR + timedelta(minutes=i)
        processor.process(TrailEvent(trail_event_id=f"ct-{i}", event_name="AuthorizeSecurityGroupIngress",
                                     event_source="ec2.amazonaws.com", event_time=at - timedelta(seconds=30),
                                     account=ACCOUNT, region=REGION, actor=bob,
                                     resource=TouchedResource(uid=group.uid, type=group.type, id=group.id)))
        processor.process(page([sg(group.id, ingress=[OFFICE])], at, scan=f"b-{group.id}"))
    settings = PatternSettings(burst_changes=4, burst_window=timedelta(minutes=5))
    [burst] = [p for p in pattern_report(store, T0, T0 + 2 * HOUR, settings) if p.pattern == "burst"]
    assert (burst.uid, burst.name, len(burst.evidence)) == (bob.arn, "bob", 4)
    assert "bob changed 4 resources in 3m" in burst.summary
    assert [p for p in pattern_report(store, T0, T0 + 2 * HOUR, PatternSettings(burst_changes=5))
            if p.pattern == "burst"] == []
    q = TemporalQueries(store)
    status, rows = answer("/v1/patterns", q, {"since": T0.isoformat(), "until": (T0 + 2 * HOUR).isoformat(),
                                              "pattern": "burst"}, AnalyzerSettings(patterns=settings))
    assert status == 200 and [r["uid"] for r in rows] == [bob.arn]
    assert all(isinstance(p, PatternEvent | DriftEvent) for p in pattern_report(store, T0, T0 + 2 * HOUR))
