"""Time travel: as of T, history, inventory, changes, who."""

from dataclasses import replace
from datetime import timedelta

from streams.observe import Observer
from streams.store.kv import MemoryKV
from streams.store.queries import InventoryFilter, TemporalQueries
from streams.store.versioned import VersionStore
from tests.unit.streams.fixtures import ACCOUNT, T0, marker, page, sg, shard

HOUR = timedelta(hours=1)


def new_observer():
    return Observer(VersionStore(MemoryKV()))


def evolve(observer, ident, hours, tags_of=lambda i: {"v": str(i)}):
    """One version of ``ident`` per entry of ``hours`` (hours after T0)."""
    for i, h in enumerate(hours):
        resource = sg(ident, tags_of(i))
        observer.observe(page([resource], T0 + h * HOUR, scan=f"{ident}-{i}"))
    return sg(ident).uid


def delete(observer, ident, at_hours):
    """A complete scan of ``ident``'s shard that saw everything else in it."""
    store, key = observer.store, shard(sg(ident))
    heads = [store.head(uid) for uid in store.shard_members(key) if uid != sg(ident).uid]
    seen = [sg(head.resource["id"]) for head in heads if not head.deleted]
    observer.close_scan(marker(key, seen, T0 + at_hours * HOUR, scan=f"del-{ident}-{at_hours}"))


def test_as_of_answers_each_version_inside_its_validity():
    observer = new_observer()
    uid = evolve(observer, "sg-1", range(0, 40, 2))  # 20 versions: the binary search has work to do
    queries = TemporalQueries(observer.store)
    assert queries.as_of(uid, T0 - HOUR) is None
    for i in range(20):
        at_start = queries.as_of(uid, T0 + 2 * i * HOUR)
        inside = queries.as_of(uid, T0 + (2 * i + 1) * HOUR)
        assert at_start.version == inside.version == i + 1
        assert inside.valid_to == (None if i == 19 else int((T0 + 2 * (i + 1) * HOUR).timestamp() * 1e6))


def test_as_of_agrees_with_the_full_history_at_every_minute():
    observer = new_observer()
    uid = evolve(observer, "sg-1", [0, 1, 1, 3, 7, 8])  # two versions may begin at the same moment
    delete(observer, "sg-1", 9)
    evolve(observer, "sg-1", [11], tags_of=lambda i: {"back": "yes"})
    store = observer.store
    for minute in range(-30, 13 * 60, 15):
        moment = T0 + timedelta(minutes=minute)
        expected = None
        for version in store.versions(uid):
            if version.valid_from <= int(moment.timestamp() * 1e6):
                expected = version
        expected = None if expected is None or expected.deleted else expected
        found = store.as_of(uid, moment)
        assert (found.version if found else None) == (expected.version if expected else None), moment


def test_history_holds_versions_overlapping_the_window():
    observer = new_observer()
    uid = evolve(observer, "sg-1", [0, 2, 4, 6])
    queries = TemporalQueries(observer.store)
    assert [v.version for v in queries.history(uid)] == [1, 2, 3, 4]
    assert [v.version for v in queries.history(uid, T0 + 3 * HOUR, T0 + 4 * HOUR)] == [2, 3]
    assert [v.version for v in queries.history(uid, T0 + 2 * HOUR, T0 + 2 * HOUR)] == [2]
    assert [v.version for v in queries.history(uid, since=T0 + 7 * HOUR)] == [4]
    assert queries.history("arn:aws:ec2:nowhere", T0, T0 + HOUR) == []


def test_inventory_as_of_sees_what_existed_then_with_the_content_of_then():
    observer = new_observer()
    early = evolve(observer, "sg-early", [0, 5], tags_of=lambda i: {"owner": ["alice", "bob"][i]})
    gone = evolve(observer, "sg-gone", [0])
    delete(observer, "sg-gone", 3)
    evolve(observer, "sg-late", [4])
    queries = TemporalQueries(observer.store)
    at_two = {v.uid: v for v in queries.inventory(T0 + 2 * HOUR)}
    assert set(at_two) == {early, gone}
    assert at_two[early].resource["tags"] == {"owner": "alice"}
    at_six = {v.uid: v.resource["tags"] for v in queries.inventory(T0 + 6 * HOUR)}
    assert at_six == {early: {"owner": "bob"}, sg("sg-late").uid: {"v": "0"}}


def test_inventory_filters_by_account_region_type_and_tag():
    observer = new_observer()
    evolve(observer, "sg-a", [0], tags_of=lambda i: {"env": "prod"})
    evolve(observer, "sg-b", [0], tags_of=lambda i: {"env": "dev"})
    queries = TemporalQueries(observer.store)

    def ids(**where):
        return sorted(v.resource["id"] for v in queries.inventory(T0 + HOUR, InventoryFilter(**where)))

    assert ids(tags={"env": "prod"}) == ["sg-a"]
    assert ids(account=ACCOUNT, type="ec2.security-group", region="eu-west-1") == ["sg-a", "sg-b"]
    assert ids(account="999999999999") == []
    assert ids(region="us-east-1") == []
    assert ids(type="s3.bucket") == []
    assert ids(tags={"env": "prod", "team": "x"}) == []


def test_changes_between_come_from_the_time_index_in_time_order():
    observer = new_observer()
    evolve(observer, "sg-1", [0, 2])
    evolve(observer, "sg-2", [1])
    delete(observer, "sg-2", 3)
    queries = TemporalQueries(observer.store)
    window = list(queries.changes(T0 + HOUR, T0 + 3 * HOUR))  # inclusive at both ends
    assert [(v.resource["id"] if v.resource else v.uid[-4:], v.kind) for v in window] == [
        ("sg-2", "created"), ("sg-1", "modified"), ("sg-2", "deleted")]
    assert list(queries.changes(T0 + 4 * HOUR, T0 + 9 * HOUR)) == []


def test_a_deleted_then_recreated_uid_reads_right_at_every_moment():
    observer = new_observer()
    uid = evolve(observer, "sg-1", [0], tags_of=lambda i: {"life": "first"})
    delete(observer, "sg-1", 2)
    evolve(observer, "sg-1", [4], tags_of=lambda i: {"life": "second"})
    queries = TemporalQueries(observer.store)
    assert queries.as_of(uid, T0 + HOUR).resource["tags"] == {"life": "first"}
    assert queries.as_of(uid, T0 + 3 * HOUR) is None
    assert queries.as_of(uid, T0 + 5 * HOUR).resource["tags"] == {"life": "second"}
    assert [v.kind for v in queries.history(uid)] == ["created", "deleted", "created"]
    assert [uid for v in queries.inventory(T0 + 3 * HOUR)] == []
    kinds = [v.kind for v in queries.changes(T0, T0 + 5 * HOUR)]
    assert kinds == ["created", "deleted", "created"]
    tombstone = queries.history(uid)[1]
    assert queries.subject(tombstone)["tags"] == {"life": "first"}  # what went


def test_who_says_unknown_until_attribution_names_someone():
    observer = new_observer()
    uid = evolve(observer, "sg-1", [0, 1, 2])
    store = observer.store
    nobody = {"actor": {"type": "Unknown", "kind": "unknown"}, "confidence": 0.0, "evidence": [], "method": "none"}
    store.rewrite(replace(store.get_version(uid, 2), attribution=nobody), is_head=False)
    alice = {"actor": {"arn": "arn:aws:iam::111122223333:user/alice", "kind": "human"},
             "confidence": 0.9, "evidence": ["AuthorizeSecurityGroupIngress"], "method": "cloudtrail"}
    store.rewrite(replace(store.get_version(uid, 3), attribution=alice), is_head=True)
    never, unnamed, named = TemporalQueries(store).who(uid)
    assert (never.actor, never.actor_kind, never.method, never.attributed) == ("unknown", "unknown", None, False)
    assert (unnamed.actor, unnamed.method, unnamed.attributed) == ("unknown", "none", False)
    assert (named.actor, named.actor_kind, named.confidence, named.method) == (
        "arn:aws:iam::111122223333:user/alice", "human", 0.9, "cloudtrail")
    assert named.evidence == ["AuthorizeSecurityGroupIngress"] and named.attributed


def test_filtered_inventory_finds_a_resource_deleted_since_and_ignores_lookalike_bytes():
    observer = new_observer()
    gone = evolve(observer, "sg-gone", [0])
    delete(observer, "sg-gone", 2)  # its head is a tombstone: no account in it to test
    lookalike = {"peering": {"account": ACCOUNT}}  # passes the byte test, fails the real one
    other = sg("sg-other").model_copy(update={"account": "999999999999", "attributes": lookalike})
    observer.observe(page([other], T0, scan="o"))
    queries = TemporalQueries(observer.store)
    assert [v.uid for v in queries.inventory(T0 + HOUR, InventoryFilter(account=ACCOUNT))] == [gone]
    assert [v.uid for v in queries.inventory(T0 + HOUR, InventoryFilter(account="999999999999"))] == [other.uid]


def test_who_names_every_co_author_with_their_share():
    from streams.store.render_json import names_of, who_json

    observer = new_observer()
    uid = evolve(observer, "sg-1", [0, 1])
    store = observer.store

    def credit(name, share):
        return {"actor": {"arn": f"arn:aws:iam::111122223333:user/{name}", "kind": "human"}, "share": share,
                "confidence": 1.0, "evidence": [name], "score": 1.0}

    both = {"actor": credit("bob", 0.667)["actor"], "confidence": 1.0, "evidence": ["alice", "bob"],
            "method": "cloudtrail", "actors": [credit("bob", 0.667), credit("alice", 0.333)]}
    store.rewrite(replace(store.get_version(uid, 2), attribution=both), is_head=True)
    (_, row) = TemporalQueries(store).who(uid)
    assert [(a.actor.rsplit("/", 1)[-1], a.share) for a in row.actors] == [("bob", 0.667), ("alice", 0.333)]
    assert [a["share"] for a in who_json(row)["actors"]] == [0.667, 0.333]
    assert names_of(store.versions(uid)) == ["arn:aws:iam::111122223333:user/alice",
                                             "arn:aws:iam::111122223333:user/bob"]
