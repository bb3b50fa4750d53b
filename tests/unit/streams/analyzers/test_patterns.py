"""Lifecycle patterns of one resource, through the partition processor and its store.

Each is raised once, by the change that completes it, with its versions as evidence;
a replay of the same input raises it again under the same id, and nothing else.
"""

from datetime import datetime, timedelta

from elava.analyzer_events import PatternEvent
from elava.events import Observation, Resource, ScanMarker, digest
from elava.settings import PatternSettings
from elava.sharding import shard_of
from streams.process import PartitionProcessor
from streams.store.keyspaces import versions_prefix
from streams.store.kv import MemoryKV
from streams.store.versioned import VersionStore
from tests.unit.streams.fixtures import ACCOUNT, REGION, T0

BUCKETS = 4


def instance(ident="i-1", state="running", **attributes) -> Resource:
    return Resource(uid=f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{ident}", type="ec2.instance", id=ident,
                    account=ACCOUNT, region=REGION, name="web", tags={"Name": "web"},
                    attributes={"state": state, "instance_type": "t3.micro", **attributes})


def bucket(name="build-cache", **attributes) -> Resource:
    return Resource(uid=f"arn:aws:s3:::{name}", type="s3.bucket", id=name, account=ACCOUNT, region="global",
                    name=name, attributes={"versioning": "Enabled", **attributes})


class Run:
    """Scans of one resource, one page (and an ok marker) per scan, counted by scan number."""

    def __init__(self, settings: PatternSettings | None = None, kv: MemoryKV | None = None) -> None:
        self.processor = PartitionProcessor(VersionStore(kv or MemoryKV()), patterns=settings or PatternSettings())
        self.scans = 0

    def _shard(self, r: Resource) -> str:
        return shard_of(r.uid, r.account, r.region, r.type, BUCKETS)

    def seen(self, r: Resource, at: datetime) -> list[PatternEvent]:
        self.scans += 1
        obs = Observation(scan_id=f"s{self.scans}", account=r.account, region=r.region, type=r.type,
                          shard=self._shard(r), page=0, observed_at=at, resources=[r])
        self.last = obs
        return self.processor.process(obs).patterns

    def gone(self, r: Resource, at: datetime) -> list[PatternEvent]:
        self.scans += 1
        marker = ScanMarker(scan_id=f"s{self.scans}", account=r.account, region=r.region, type=r.type,
                            shard=self._shard(r), status="ok", count=0, ids_digest=digest([]), ids=[],
                            started_at=at, finished_at=at + timedelta(seconds=5))
        self.last = marker
        return self.processor.process(marker).patterns

    def replay(self) -> list[PatternEvent]:
        return self.processor.process(self.last).patterns


def test_a_bucket_deleted_and_created_again_under_its_name_is_recreated_with_both_versions():
    run = Run()
    assert run.seen(bucket(), T0) == []
    assert run.gone(bucket(), T0 + timedelta(hours=1)) == []
    [found] = run.seen(bucket(), T0 + timedelta(hours=1, minutes=20))
    assert (found.pattern, found.name) == ("recreated", "build-cache")
    assert [(e.version, e.kind) for e in found.evidence] == [(2, "deleted"), (3, "created")]
    assert "20m later" in found.summary
    assert [p.event_id for p in run.replay()] == [found.event_id]  # a replay: the same event, same id


def test_recreated_only_within_the_window():
    run = Run(PatternSettings(recreated_within=timedelta(hours=1)))
    run.seen(bucket(), T0)
    run.gone(bucket(), T0 + timedelta(hours=1))
    assert run.seen(bucket(), T0 + timedelta(hours=3)) == []


def test_a_resource_deleted_soon_after_it_was_created_is_short_lived_by_its_type_threshold():
    run = Run(PatternSettings(short_lived_by_type={"ec2.instance": timedelta(minutes=30)}))
    run.seen(instance(), T0)
    [found] = run.gone(instance(), T0 + timedelta(minutes=12))
    assert (found.pattern, [e.kind for e in found.evidence]) == ("short-lived", ["created", "deleted"])
    assert "lived 12m (under 30m)" in found.summary
    assert [p.event_id for p in run.replay()] == [found.event_id]

    longer = Run(PatternSettings(short_lived_by_type={"ec2.instance": timedelta(minutes=10)}))
    longer.seen(instance(), T0)
    assert longer.gone(instance(), T0 + timedelta(minutes=12)) == []


def test_a_field_going_back_and_forth_is_flapping_once():
    run = Run()
    sizes = ["t3.micro", "t3.large", "t3.micro", "t3.large", "t3.micro"]
    found = [run.seen(instance(instance_type=size), T0 + timedelta(hours=i)) for i, size in enumerate(sizes)]
    assert [len(f) for f in found] == [0, 0, 0, 1, 0]  # the third change completes it; the fourth is the same episode
    [flapping] = found[3]
    assert (flapping.pattern, flapping.subject) == ("flapping", "attributes.instance_type")
    assert [e.version for e in flapping.evidence] == [2, 3, 4]
    assert [p.event_id for p in run.replay()] == []  # the last input completed nothing


def test_a_field_moving_on_is_not_flapping():
    run = Run()
    for i, size in enumerate(["t3.micro", "t3.small", "t3.medium", "t3.large", "t3.xlarge"]):
        assert run.seen(instance(instance_type=size), T0 + timedelta(hours=i)) == []


def test_churn_and_ignored_fields_do_not_flap():
    run = Run()
    for i in range(6):  # a public address AWS changes at each start
        assert run.seen(instance(public_ip=f"203.0.113.{i % 2}"), T0 + timedelta(hours=i)) == []


def test_flapping_counts_within_its_window():
    run = Run(PatternSettings(flapping_window=timedelta(hours=2)))
    for i, size in enumerate(["t3.micro", "t3.large", "t3.micro", "t3.large"]):
        assert run.seen(instance(instance_type=size), T0 + timedelta(hours=2 * i)) == []


def test_started_at_the_same_hour_on_three_days_is_a_schedule():
    run = Run()
    day = timedelta(days=1)
    starts = []
    run.seen(instance(state="stopped"), T0 - timedelta(hours=4))
    for d in range(4):
        run.seen(instance(state="pending"), T0 + d * day + timedelta(hours=-4, minutes=2))  # 08:02 UTC
        starts.append(run.seen(instance(state="running"), T0 + d * day + timedelta(hours=-4, minutes=7)))
        run.seen(instance(state="stopped"), T0 + d * day + timedelta(hours=6))  # 18:00 UTC
    assert [len(s) for s in starts] == [0, 0, 1, 0]
    [schedule] = starts[2]
    assert (schedule.pattern, schedule.subject) == ("schedule", "start 08h UTC")
    assert len({e.at.date() for e in schedule.evidence}) == 3
    stops = [p for p in run.processor.analyzers.findings.between(T0 - day, T0 + 5 * day)
             if isinstance(p, PatternEvent) and p.subject == "stop 18h UTC"]
    assert len(stops) == 1


class CountingKV(MemoryKV):
    def __init__(self) -> None:
        super().__init__()
        self.scanned: list[bytes] = []

    def scan(self, prefix: bytes):
        self.scanned.append(prefix)
        return super().scan(prefix)

    def scan_range(self, start: bytes, end: bytes):
        self.scanned.append(start)  # a range from a prefix on: that prefix's records read
        return super().scan_range(start, end)


def test_a_modification_too_early_for_any_pattern_reads_no_versions():
    kv = CountingKV()
    run = Run(PatternSettings(flapping_changes=3, schedule_days=4), kv)
    versions_read = []
    for i, size in enumerate(["t3.micro", "t3.large", "t3.micro", "t3.large"]):
        kv.scanned.clear()
        found = run.seen(instance(instance_type=size), T0 + timedelta(hours=i))
        versions_read.append(kv.scanned.count(versions_prefix(instance().uid)))
        assert len(found) == (1 if i == 3 else 0)  # the third modification (version 4) still flaps
    assert versions_read[:3] == [0, 0, 0] and versions_read[3] > 0


def test_patterns_can_be_turned_off():
    run = Run(PatternSettings(enabled=False))
    run.seen(bucket(), T0)
    run.gone(bucket(), T0 + timedelta(hours=1))
    assert run.seen(bucket(), T0 + timedelta(hours=1, minutes=5)) == []
