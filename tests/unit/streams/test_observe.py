from datetime import timedelta

from streams.observe import UNREAD, Observer
from streams.process import PartitionProcessor
from streams.store.kv import MemoryKV
from streams.store.records import RecordLead
from streams.store.versioned import VersionStore
from tests.unit.streams.fixtures import T0, marker, page, sg, shard

SSH_WORLD = {"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "0.0.0.0/0"}


def new_observer():
    kv = MemoryKV()
    return Observer(VersionStore(kv)), kv


def test_first_observation_creates_version_one():
    observer, _ = new_observer()
    changes = observer.observe(page([sg("sg-1", {"owner": "alice"})], T0))
    assert [(c.kind, c.new_version, c.previous_version) for c in changes] == [("created", 1, None)]
    assert changes[0].resource.tags == {"owner": "alice"}


def test_unchanged_reobservation_writes_nothing():
    observer, kv = new_observer()
    observer.observe(page([sg("sg-1")], T0, scan="s1"))
    before = dict(kv._data)
    assert observer.observe(page([sg("sg-1")], T0 + timedelta(hours=1), scan="s2")) == []
    assert kv._data == before


def test_modification_carries_field_diff_and_versions():
    observer, _ = new_observer()
    observer.observe(page([sg("sg-1", {"owner": "alice"})], T0, scan="s1"))
    changes = observer.observe(page([sg("sg-1", {}, [SSH_WORLD])], T0 + timedelta(minutes=5), scan="s2"))
    (change,) = changes
    assert (change.kind, change.previous_version, change.new_version) == ("modified", 1, 2)
    assert {(d.path, d.op) for d in change.diff} == {("tags.owner", "remove"), ("attributes.ingress", "add")}


def test_redelivered_page_reemits_the_same_change_and_rewrites_the_same_bytes():
    observer, kv = new_observer()
    first_page = page([sg("sg-1")], T0)
    (first,) = observer.observe(first_page)
    before = dict(kv._data)
    writes = []
    kv.put = lambda key, value: writes.append(key) or MemoryKV.put(kv, key, value)
    (again,) = observer.observe(first_page)
    assert again == first
    assert kv._data == before
    assert writes, "a redelivery must re-send its records (the changelog may have missed them)"


def test_successful_marker_deletes_only_unseen_resources_of_its_shard():
    observer, _ = new_observer()
    a = sg("sg-a")
    others = [r for r in (sg(f"sg-{i}") for i in range(40)) if shard(r) == shard(a) and r.id != "sg-a"]
    b = others[0]
    observer.observe(page([a, b], T0))
    changes = observer.close_scan(marker(shard(a), [a], T0 + timedelta(hours=1), scan="s2"))
    assert [(c.uid, c.kind, c.new_version) for c in changes] == [(b.uid, "deleted", 2)]
    assert changes[0].resource.id == b.id  # the deletion says what went


def test_failed_marker_never_deletes():
    observer, _ = new_observer()
    a = sg("sg-a")
    observer.observe(page([a], T0))
    assert observer.close_scan(marker(shard(a), [], T0 + timedelta(hours=1), status="failed")) == []
    assert observer.store.head(a.uid).kind == "created"


def test_marker_does_not_delete_what_appeared_after_the_scan_started():
    observer, _ = new_observer()
    a = sg("sg-a")
    observer.observe(page([a], T0 + timedelta(minutes=10), scan="s2"))
    assert observer.close_scan(marker(shard(a), [], T0, scan="s1")) == []


def test_redelivered_marker_reemits_the_same_deletion():
    observer, _ = new_observer()
    a = sg("sg-a")
    observer.observe(page([a], T0))
    closing = marker(shard(a), [], T0 + timedelta(hours=1), scan="s2")
    (first,) = observer.close_scan(closing)
    (again,) = observer.close_scan(closing)
    assert again == first
    assert observer.store.head(a.uid).version == 2


def test_deleted_resource_that_reappears_is_created_again():
    observer, _ = new_observer()
    a = sg("sg-a")
    observer.observe(page([a], T0, scan="s1"))
    observer.close_scan(marker(shard(a), [], T0 + timedelta(hours=1), scan="s2"))
    (change,) = observer.observe(page([a], T0 + timedelta(hours=2), scan="s3"))
    assert (change.kind, change.new_version, change.previous_version) == ("created", 3, 2)


def test_replayed_older_page_reemits_its_change_and_never_flips_versions():
    observer, _ = new_observer()
    first = page([sg("sg-1", {"owner": "a"})], T0, scan="s1")
    (created,) = observer.observe(first)
    observer.observe(page([sg("sg-1", {"owner": "b"})], T0 + timedelta(hours=1), scan="s2"))
    (replayed,) = observer.observe(first)  # the worker re-reads from an older offset
    assert replayed == created
    assert observer.store.head(sg("sg-1").uid).version == 2


def test_replayed_marker_reemits_its_deletion_after_the_resource_came_back():
    observer, _ = new_observer()
    a = sg("sg-a")
    observer.observe(page([a], T0, scan="s1"))
    closing = marker(shard(a), [], T0 + timedelta(hours=1), scan="s2")
    (deleted,) = observer.close_scan(closing)
    observer.observe(page([a], T0 + timedelta(hours=2), scan="s3"))
    (replayed,) = observer.close_scan(closing)
    assert replayed == deleted
    head = observer.store.head(a.uid)
    assert (head.version, head.kind) == (3, "created")
    assert observer.store.last_scan(shard(a))["scan_id"] == "s2"


def test_older_marker_does_not_replace_the_last_scan_record():
    observer, _ = new_observer()
    a = sg("sg-a")
    observer.close_scan(marker(shard(a), [], T0 + timedelta(hours=2), scan="new"))
    observer.close_scan(marker(shard(a), [], T0, scan="old"))
    assert observer.store.last_scan(shard(a))["scan_id"] == "new"


def test_a_marker_older_than_the_shards_last_scan_deletes_nothing_new():
    """E.g. replayed from the DLQ after later scans: what it missed was seen since, unchanged."""
    observer, _ = new_observer()
    a = sg("sg-a")
    b = next(r for r in (sg(f"sg-{i}") for i in range(40)) if shard(r) == shard(a) and r.id != "sg-a")
    observer.observe(page([a, b], T0))
    late = marker(shard(a), [a], T0 + timedelta(hours=1), scan="s-late")  # b missing from this listing
    assert observer.close_scan(marker(shard(a), [a, b], T0 + timedelta(hours=2), scan="s-newer")) == []
    assert observer.close_scan(late) == []
    assert observer.store.head(b.uid).kind == "created"


def test_a_replayed_marker_reemits_its_own_deletions_after_newer_scans():
    observer, _ = new_observer()
    a = sg("sg-a")
    b = next(r for r in (sg(f"sg-{i}") for i in range(40)) if shard(r) == shard(a) and r.id != "sg-a")
    observer.observe(page([a, b], T0))
    first = marker(shard(a), [a], T0 + timedelta(hours=1), scan="s1")
    (deleted,) = observer.close_scan(first)
    observer.close_scan(marker(shard(a), [a], T0 + timedelta(hours=2), scan="s2"))
    assert observer.close_scan(first) == [deleted]


def _same_shard_pair():
    a = sg("sg-a")
    b = next(r for r in (sg(f"sg-{i}") for i in range(40)) if shard(r) == shard(a) and r.id != "sg-a")
    return a, b


def test_a_marker_reads_no_head_of_a_member_it_saw():
    observer, kv = new_observer()
    a, b = _same_shard_pair()
    observer.observe(page([a, b], T0))
    heads_read = []
    kv.get = lambda key: heads_read.append(key) or MemoryKV.get(kv, key)
    changes = observer.close_scan(marker(shard(a), [a], T0 + timedelta(hours=1), scan="s2"))
    assert [(c.uid, c.kind) for c in changes] == [(b.uid, "deleted")]
    assert [key for key in heads_read if a.uid.encode() in key] == []  # the membership holds a's id
    assert [key for key in heads_read if key.startswith(b"h") and b.uid.encode() in key]  # b's head is read


def test_a_store_whose_memberships_lack_ids_still_deletes_only_the_unseen():
    observer, kv = new_observer()
    a, b = _same_shard_pair()
    observer.observe(page([a, b], T0))
    for key in [key for key in kv._data if key.startswith(b"m\x00")]:
        kv._data[key] = b""  # as written before memberships kept the resource's id
    changes = observer.close_scan(marker(shard(a), [a], T0 + timedelta(hours=1), scan="s2"))
    assert [(c.uid, c.kind) for c in changes] == [(b.uid, "deleted")]


# --- a page read lazily (streams/pages.py): validated only where it differs from the store


def lazily(obs):
    from streams.pages import read_page

    read = read_page(obs.to_bytes())
    assert read is not None
    return read


def test_screen_leaves_out_unvalidated_only_what_is_unchanged():
    observer, _ = new_observer()
    observer.observe(page([sg("sg-1"), sg("sg-4"), sg("sg-8")], T0, scan="s1"))
    again = page([sg("sg-1"), sg("sg-4", {"team": "search"}), sg("sg-8"), sg("sg-10")], T0 + timedelta(hours=1),
                 scan="s2")
    assert screened(observer, lazily(again)) == [sg("sg-4", {"team": "search"}), sg("sg-10")]


def test_screen_keeps_whatever_the_page_replays_and_a_uid_seen_twice():
    observer, _ = new_observer()
    first = page([sg("sg-1"), sg("sg-4")], T0, scan="s1")
    observer.observe(first)
    assert screened(observer, lazily(first)) == [sg("sg-1"), sg("sg-4")]  # redelivered: decide replays them
    older = page([sg("sg-1")], T0 - timedelta(hours=1), scan="s0")
    assert screened(observer, lazily(older)) == [sg("sg-1")]
    twice = page([sg("sg-1"), sg("sg-4"), sg("sg-1")], T0 + timedelta(hours=1), scan="s2")
    assert screened(observer, lazily(twice)) == [sg("sg-1"), sg("sg-1")]


def test_a_deleted_head_is_no_match_for_the_same_content():
    observer, _ = new_observer()
    observer.observe(page([sg("sg-1"), sg("sg-4")], T0, scan="s1"))
    observer.close_scan(marker(shard(sg("sg-1")), [sg("sg-4")], T0 + timedelta(minutes=1), scan="s1"))
    back = page([sg("sg-1"), sg("sg-4")], T0 + timedelta(hours=1), scan="s2")
    assert screened(observer, lazily(back)) == [sg("sg-1")]


def screened(observer: Observer, page) -> list:
    """The resources ``screen_with_heads`` hands to ``decide``, without the leads it read."""
    return [resource for resource, _, _ in observer.screen_with_heads(page)]


class CallCountingKV(MemoryKV):
    """A MemoryKV that counts single reads and batched reads."""

    def __init__(self) -> None:
        super().__init__()
        self.gets = self.batches = 0

    def get(self, key):
        self.gets += 1
        return super().get(key)

    def get_many(self, keys):
        self.batches += 1
        return [super(CallCountingKV, self).get(key) for key in keys]


def test_screen_reads_a_pages_heads_in_one_call_and_the_changed_ones_versions_in_another():
    kv = CallCountingKV()
    observer = Observer(VersionStore(kv))
    observer.observe(page([sg("sg-1"), sg("sg-4"), sg("sg-8")], T0, scan="s1"))
    kv.gets = kv.batches = 0
    unchanged = page([sg("sg-1"), sg("sg-4"), sg("sg-8")], T0 + timedelta(hours=1), scan="s2")
    assert screened(observer, lazily(unchanged)) == []
    assert (kv.batches, kv.gets) == (1, 0)
    kv.gets = kv.batches = 0
    again = page([sg("sg-1"), sg("sg-4", {"team": "search"}), sg("sg-8")], T0 + timedelta(hours=1), scan="s2")
    assert screened(observer, lazily(again)) == [sg("sg-4", {"team": "search"})]
    assert (kv.batches, kv.gets) == (2, 0)
    [(_, lead, _)] = observer.screen_with_heads(lazily(again))
    assert lead.source is None and lead.full() == observer.store.get_version(sg("sg-4").uid, 1)


def test_a_validated_page_has_its_heads_read_in_one_call_a_repeated_uid_left_unread():
    kv = CallCountingKV()
    observer = Observer(VersionStore(kv))
    observer.observe(page([sg("sg-1"), sg("sg-4")], T0, scan="s1"))
    kv.gets = kv.batches = 0
    again = page([sg("sg-1"), sg("sg-4"), sg("sg-8"), sg("sg-4", {"team": "search"})], T0 + timedelta(hours=1),
                 scan="s2")
    paired = observer.with_heads(again)
    assert (kv.batches, kv.gets) == (1, 0)
    assert [(resource.uid, lead) for resource, lead, _ in paired if not isinstance(lead, RecordLead)] == [
        (sg("sg-4").uid, UNREAD), (sg("sg-8").uid, None), (sg("sg-4").uid, UNREAD)]
    assert paired[0][1].hash == sg("sg-1").content_hash()


def test_processing_a_validated_page_reads_its_heads_together_and_the_changed_ones_versions():
    kv = CallCountingKV()
    processor = PartitionProcessor(VersionStore(kv))
    processor.process(page([sg("sg-1"), sg("sg-4"), sg("sg-8")], T0, scan="s1"))
    kv.gets = kv.batches = 0
    produced = processor.process(page([sg("sg-1"), sg("sg-4", {"team": "search"}), sg("sg-8")],
                                      T0 + timedelta(hours=1), scan="s2"))
    assert [change.uid for change in produced.changes] == [sg("sg-4").uid]
    assert kv.batches == 2  # the heads, then the version record of the one that changed (sg-4)
    assert kv.gets == 0
