"""The net difference between two moments (streams/store/net.py, `TemporalQueries.diff`)."""

from datetime import timedelta

import pytest

from elava.events import Observation
from streams.store.queries import InventoryFilter, TemporalQueries
from tests.unit.streams.fixtures import ACCOUNT, REGION, T0, sg
from tests.unit.streams.test_queries import delete, evolve, new_observer

HOUR = timedelta(hours=1)


def net(queries, start_hours, end_hours, **options):
    found = queries.diff(T0 + start_hours * HOUR, T0 + end_hours * HOUR, **options)
    return {(n.subject.get("id") or n.uid.rsplit("/", 1)[-1]): n for n in found}


def estate():
    """Before T0+5h: kept (unchanged), tagged (owner a -> b -> c), flip (x -> y -> x), old (deleted at 6h);
    in the window (5h, 10h]: fresh (created), blip (created and deleted), and the changes above."""
    observer = new_observer()
    evolve(observer, "sg-kept", [0], tags_of=lambda i: {"env": "prod"})
    evolve(observer, "sg-tagged", [0, 6, 8], tags_of=lambda i: {"owner": "abc"[i], "env": "prod"})
    evolve(observer, "sg-flip", [0, 6, 7], tags_of=lambda i: {"mode": "xyx"[i]})
    evolve(observer, "sg-old", [1], tags_of=lambda i: {"env": "dev"})
    delete(observer, "sg-old", 6)
    evolve(observer, "sg-fresh", [7], tags_of=lambda i: {"env": "prod"})
    evolve(observer, "sg-blip", [6])
    delete(observer, "sg-blip", 9)
    return observer, TemporalQueries(observer.store)


def test_the_net_difference_is_created_deleted_and_modified_with_the_field_diff_between_the_ends():
    _, queries = estate()
    found = net(queries, 5, 10)
    assert {ident: n.kind for ident, n in found.items()} == {
        "sg-fresh": "created", "sg-old": "deleted", "sg-tagged": "modified"}
    tagged = found["sg-tagged"]
    # Two versions in between; the diff is from the T1 version to the T2 version, not event by event.
    assert (tagged.before.version, tagged.after.version, len(tagged.between)) == (1, 3, 2)
    assert [(c.path, c.op, c.old, c.new) for c in tagged.diff] == [("tags.owner", "replace", "a", "c")]
    assert found["sg-old"].after is None and found["sg-old"].subject["tags"] == {"env": "dev"}
    assert found["sg-fresh"].before is None and found["sg-fresh"].diff == []


def test_created_and_deleted_in_the_window_is_in_neither_list_and_changed_back_is_not_modified():
    _, queries = estate()
    found = net(queries, 5, 10)
    assert "sg-blip" not in found  # created at 6h, deleted at 9h: nothing differs
    assert "sg-flip" not in found  # x -> y -> x
    assert "sg-kept" not in found
    assert "sg-blip" in net(queries, 5, 8)  # but it did exist at 8h
    assert net(queries, 6.5, 7)["sg-flip"].diff[0].new == "x"


def test_each_end_is_inclusive_like_as_of():
    _, queries = estate()
    assert net(queries, 6, 8)["sg-tagged"].before.version == 2  # a version that began at T1 is the T1 state
    assert net(queries, 5, 6)["sg-tagged"].after.version == 2  # and one that began at T2 the T2 state


def test_a_uid_deleted_and_created_again_is_modified_and_says_so():
    observer = new_observer()
    evolve(observer, "sg-1", [0], tags_of=lambda i: {"life": "first"})
    delete(observer, "sg-1", 2)
    evolve(observer, "sg-1", [4], tags_of=lambda i: {"life": "second"})
    found = net(TemporalQueries(observer.store), 1, 5)["sg-1"]
    assert found.kind == "modified" and found.recreated
    assert [(c.path, c.new) for c in found.diff] == [("tags.life", "second")]


def test_filters_by_uid_type_account_and_tag_before_or_after():
    observer, queries = estate()
    instance = sg("i-1", {"env": "prod"}).model_copy(update={
        "type": "ec2.instance", "uid": f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-1"})
    observer.observe(Observation(scan_id="i", account=ACCOUNT, region=REGION, type="ec2.instance",
                                 shard=f"{ACCOUNT}/{REGION}/ec2.instance/0", page=0,
                                 observed_at=T0 + 7 * HOUR, resources=[instance]))
    assert set(net(queries, 5, 10, where=InventoryFilter(type="ec2.instance"))) == {"i-1"}
    assert set(net(queries, 5, 10, where=InventoryFilter(type="ec2.security-group"))) == {
        "sg-fresh", "sg-old", "sg-tagged"}
    assert net(queries, 5, 10, where=InventoryFilter(account="999999999999")) == {}
    assert set(net(queries, 5, 10, where=InventoryFilter(tags={"env": "prod"}))) == {"i-1", "sg-fresh", "sg-tagged"}
    assert set(net(queries, 5, 10, where=InventoryFilter(tags={"owner": "a"}))) == {"sg-tagged"}  # a before
    assert set(net(queries, 5, 10, uid=sg("sg-old").uid)) == {"sg-old"}
    assert net(queries, 5, 10, uid=sg("sg-kept").uid) == {}


def test_a_window_that_ends_before_it_starts_is_refused():
    _, queries = estate()
    with pytest.raises(ValueError, match="before its start"):
        list(queries.diff(T0 + 2 * HOUR, T0 + HOUR))


def test_changes_take_the_same_filters():
    _, queries = estate()

    def ids(**options):
        return [(v.uid.rsplit("/", 1)[-1], v.version) for v in queries.changes(T0 + 5 * HOUR, T0 + 10 * HOUR,
                                                                                **options)]

    assert ids(uid=sg("sg-tagged").uid) == [("sg-tagged", 2), ("sg-tagged", 3)]
    assert ids(where=InventoryFilter(tags={"env": "dev"})) == [("sg-old", 2)]  # a deletion: its last state
    assert ids(where=InventoryFilter(tags={"owner": "b"})) == [("sg-tagged", 2), ("sg-tagged", 3)]  # b after, b before
    assert ids(where=InventoryFilter(type="s3.bucket")) == []
