"""Every waste rule, on resources scanned through the real partition processing: when it
raises, what it says (evidence, units), and the false positives it must not raise."""

from __future__ import annotations

from datetime import timedelta

import pytest

from elava.events import Actor, TouchedResource, TrailEvent
from streams.analyzers.waste.sizes import instance_factor
from tests.unit.streams.analyzers.waste_estate import ACCOUNT, DAY, T0, Estate, resource


def only(findings, pattern=None):
    picked = [f for f in findings if pattern is None or f.pattern == pattern]
    assert len(picked) == 1, findings
    return picked[0]


def patterns(findings):
    return sorted((f.pattern, f.status) for f in findings)


# --- state rules --------------------------------------------------------------------------

def volume(state="available", tags=None, **extra):
    attributes = {"state": state, "size_gib": 100, "volume_type": "gp3", "iops": 3000, "throughput": 125,
                  "attached": state == "in-use", "attachments": [], "create_time": (T0 - 2 * DAY).isoformat()}
    return resource("ec2.volume", "vol-1", tags, **{**attributes, **extra})


def test_an_unattached_volume_is_waste_after_the_idle_threshold_with_its_size_and_since_its_creation():
    estate = Estate()
    assert estate.scan(T0, "ec2.volume", [volume()]) == []  # 2 days old: routine churn
    found = only(estate.scan(T0 + 6 * DAY, "ec2.volume", [volume()]))
    assert (found.pattern, found.status, found.since) == ("unattached-volume", "open", T0 - 2 * DAY)
    assert found.units == {"gib": 100, "volume_type": "gp3", "iops": 3000, "throughput_mibps": 125,
                           "hours_idle": 8 * 24}
    assert found.evidence == {"state": "available", "attached": False}
    assert "8 days" in found.reason


def test_an_attached_volume_or_one_detached_briefly_is_not_waste():
    estate = Estate()
    assert estate.scan(T0, "ec2.volume", [volume("in-use", create_time=(T0 - 90 * DAY).isoformat())]) == []
    assert estate.scan(T0 + DAY, "ec2.volume", [volume(create_time=(T0 - 90 * DAY).isoformat())]) == []
    # Detached a day ago, though created 90 days ago: available since the detach, not the creation.
    assert estate.scan(T0 + 3 * DAY, "ec2.volume", [volume(create_time=(T0 - 90 * DAY).isoformat())]) == []
    found = only(estate.scan(T0 + 9 * DAY, "ec2.volume", [volume(create_time=(T0 - 90 * DAY).isoformat())]))
    assert found.since == T0 + DAY


def test_an_unassociated_address_is_waste_after_the_idle_threshold():
    estate = Estate()
    address = resource("ec2.elastic-ip", "eipalloc-1", associated=False, domain="vpc")
    assert estate.scan(T0, "ec2.elastic-ip", [address]) == []
    found = only(estate.scan(T0 + 8 * DAY, "ec2.elastic-ip", [address]))
    assert (found.pattern, found.units["public_ipv4_addresses"], found.since) == ("unassociated-address", 1, T0)
    associated = resource("ec2.elastic-ip", "eipalloc-1", associated=True, domain="vpc")
    resolved = only(estate.scan(T0 + 9 * DAY, "ec2.elastic-ip", [associated]))
    assert (resolved.status, resolved.since) == ("resolved", T0)


def instance(state="running", instance_type="m5.4xlarge", **extra):
    attributes = {"state": state, "instance_type": instance_type, "volumes": ["vol-a", "vol-b"],
                  "launch_time": (T0 - 30 * DAY).isoformat(), "image_id": "ami-1"}
    return resource("ec2.instance", "i-1", **{**attributes, **extra})


def test_an_instance_stopped_longer_than_idle_threshold_is_waste_and_resolved_when_started():
    estate = Estate(idle_threshold="3d")
    estate.scan(T0, "ec2.instance", [instance()])
    assert estate.scan(T0 + DAY, "ec2.instance", [instance("stopped")]) == []
    found = only(estate.scan(T0 + 5 * DAY, "ec2.instance", [instance("stopped")]))
    assert (found.pattern, found.since, found.units["ebs_volumes"]) == ("stopped-instance", T0 + DAY, 2)
    assert found.units["instance_type"] == "m5.4xlarge" and found.units["hours_idle"] == 4 * 24
    assert patterns(estate.scan(T0 + 6 * DAY, "ec2.instance", [instance()])) == [("stopped-instance", "resolved")]


def test_empty_repositories_and_buckets_are_waste_once_empty_long_enough():
    estate = Estate()
    repository = resource("ecr.repository", "shop/api", empty=True, created=(T0 - 30 * DAY).isoformat())
    bucket = resource("s3.bucket", "logs", empty=True, creation_date=(T0 - DAY).isoformat())
    assert only(estate.scan(T0, "ecr.repository", [repository])).pattern == "empty-repository"
    assert estate.scan(T0, "s3.bucket", [bucket]) == []  # a day old: still being set up
    assert only(estate.scan(T0 + 7 * DAY, "s3.bucket", [bucket])).pattern == "empty-bucket"
    full = resource("s3.bucket", "logs", empty=False, creation_date=(T0 - DAY).isoformat())
    assert patterns(estate.scan(T0 + 8 * DAY, "s3.bucket", [full])) == [("empty-bucket", "resolved")]


# --- orphaned -------------------------------------------------------------------------------

def test_orphaned_needs_no_owner_tag_and_no_creator_after_the_grace():
    estate = Estate()
    untagged = volume("in-use", tags={})
    assert estate.scan(T0, "ec2.volume", [untagged]) == []  # CloudTrail may still name the creator
    found = only(estate.scan(T0 + 2 * DAY, "ec2.volume", [untagged]))
    assert (found.pattern, found.evidence["creator"], found.since) == ("orphaned", None, T0 - 2 * DAY)
    assert found.units["gib"] == 100
    owned = volume("in-use", tags={"Owner": "bob"})  # any case of an owner tag key
    assert patterns(estate.scan(T0 + 3 * DAY, "ec2.volume", [owned])) == [("orphaned", "resolved")]


def test_a_resource_whose_creator_cloudtrail_named_is_not_orphaned():
    estate = Estate()
    untagged = volume("in-use", tags={})
    alice = Actor(type="IAMUser", arn=f"arn:aws:iam::{ACCOUNT}:user/alice", name="alice", kind="human")
    estate.trail(TrailEvent(trail_event_id="ct-1", event_name="CreateVolume", event_source="ec2.amazonaws.com",
                            event_time=T0 - timedelta(minutes=1), account=ACCOUNT, region=untagged.region,
                            actor=alice, resource=TouchedResource(uid=untagged.uid, type=untagged.type,
                                                                  id=untagged.id)))
    estate.scan(T0, "ec2.volume", [untagged])
    assert estate.scan(T0 + 2 * DAY, "ec2.volume", [untagged]) == []


def test_other_owner_tags_can_be_configured():
    estate = Estate(owner_tags=["team", "cost-center"])
    tagged = volume("in-use", tags={"cost-center": "42"})
    estate.scan(T0, "ec2.volume", [tagged])
    assert estate.scan(T0 + 2 * DAY, "ec2.volume", [tagged]) == []


# --- across resources: counts from the metrics collector ----------------------------------

def snapshot(**extra):
    attributes = {"volume_id": "vol-gone", "volume_size_gib": 50, "storage_tier": "standard",
                  "start_time": (T0 - 40 * DAY).isoformat()}
    return resource("ec2.snapshot", "snap-1", **{**attributes, **extra})


def test_a_snapshot_whose_volume_is_gone_and_that_no_image_uses_is_waste():
    estate = Estate()
    snap = snapshot()
    estate.scan(T0, "ec2.snapshot", [snap])
    found = only(estate.metrics(T0 + DAY, "ec2.snapshot", {snap.uid: {"present.ec2.volume": 0,
                                                                      "used_by.ec2.image": 0}}))
    assert (found.pattern, found.units["gib"], found.evidence["volume_id"]) == ("orphaned-snapshot", 50, "vol-gone")
    # An image is made of it now: resolved.
    resolved = only(estate.metrics(T0 + 2 * DAY, "ec2.snapshot", {snap.uid: {"present.ec2.volume": 0,
                                                                           "used_by.ec2.image": 1}}))
    assert resolved.status == "resolved"


@pytest.mark.parametrize(("values", "missing"), [
    ({"present.ec2.volume": 1, "used_by.ec2.image": 0}, {}),  # its volume is still there
    ({"used_by.ec2.image": 0}, {"present.ec2.volume": "ec2.volume was not scanned completely"}),
    ({}, {}),  # nothing counted yet
])
def test_a_snapshot_with_its_volume_or_without_complete_counts_is_not_waste(values, missing):
    estate = Estate()
    snap = snapshot()
    estate.scan(T0, "ec2.snapshot", [snap])
    assert estate.metrics(T0 + DAY, "ec2.snapshot", {snap.uid: values}, {snap.uid: missing}) == []


def test_a_young_snapshot_is_not_waste():
    estate = Estate()
    snap = snapshot(start_time=(T0 - 2 * DAY).isoformat())
    estate.scan(T0, "ec2.snapshot", [snap])
    assert estate.metrics(T0, "ec2.snapshot", {snap.uid: {"present.ec2.volume": 0, "used_by.ec2.image": 0}}) == []


def image(**extra):
    return resource("ec2.image", "ami-1", public=False, snapshots=["snap-1"],
                    creation_date=(T0 - 60 * DAY).isoformat(), **extra)


def test_an_image_no_instance_runs_is_waste_but_not_a_public_one():
    estate = Estate()
    ami, public = image(), resource("ec2.image", "ami-2", public=True, snapshots=[],
                                    creation_date=(T0 - 60 * DAY).isoformat())
    estate.scan(T0, "ec2.image", [ami, public])
    found = estate.metrics(T0 + DAY, "ec2.image", {ami.uid: {"used_by.ec2.instance": 0},
                                                   public.uid: {"used_by.ec2.instance": 0}})
    assert [(f.uid, f.pattern) for f in found] == [(ami.uid, "unused-image")]
    assert found[0].lacking and found[0].units["snapshots"] == 1
    assert estate.metrics(T0 + 2 * DAY, "ec2.image", {ami.uid: {"used_by.ec2.instance": 2}})[0].status == "resolved"


# --- metrics rules --------------------------------------------------------------------------

def balancer(kind="application", listeners=({"port": 443},), created=T0 - 30 * DAY):
    return resource("elbv2.load-balancer", f"{kind[:3]}/web/1", type=kind, scheme="internet-facing",
                    listeners=list(listeners), created_time=created.isoformat())


@pytest.mark.parametrize(("made", "metric"), [
    (lambda: balancer(), "requests"),
    (lambda: balancer("network"), "new_flows"),
    (lambda: resource("ec2.nat-gateway", "nat-1", state="available", create_time=(T0 - 30 * DAY).isoformat()),
     ("bytes_out", "bytes_in")),
    (lambda: resource("rds.instance", "db-1", status="available", instance_class="db.r5.large",
                      allocated_storage_gib=200, created=(T0 - 30 * DAY).isoformat()), "connections"),
    (lambda: resource("lambda.function", "fn-1", memory_mb=512, last_modified=(T0 - 30 * DAY).isoformat()),
     "invocations"),
])
def test_idle_by_metrics_appears_at_zero_over_a_full_window_and_resolves_with_use(made, metric):
    estate = Estate()
    subject = made()
    names = metric if isinstance(metric, tuple) else (metric,)
    estate.scan(T0, subject.type, [subject])
    found = only(estate.metrics(T0 + DAY, subject.type, {subject.uid: dict.fromkeys(names, 0.0)}))
    assert found.status == "open" and found.since == T0 + DAY - 14 * DAY and found.evidence["window_days"] == 14
    assert estate.metrics(T0 + 2 * DAY, subject.type, {subject.uid: dict.fromkeys(names, 0.0)}) == []  # unchanged
    used = {name: 0.0 for name in names} | {names[-1]: 12.0}
    assert only(estate.metrics(T0 + 3 * DAY, subject.type, {subject.uid: used})).status == "resolved"


def test_throttled_or_missing_metrics_raise_nothing_and_resolve_nothing():
    estate = Estate()
    web = balancer()
    estate.scan(T0, web.type, [web])
    assert estate.metrics(T0 + DAY, web.type, {}, {web.uid: {"requests": "throttled"}}) == []
    assert only(estate.metrics(T0 + 2 * DAY, web.type, {web.uid: {"requests": 0.0}})).status == "open"
    # Throttled while the finding is open: it stays open, nothing is said.
    assert estate.metrics(T0 + 3 * DAY, web.type, {}, {web.uid: {"requests": "throttled"}}) == []
    assert estate.scan(T0 + 3 * DAY, web.type, [web]) == []


def test_a_resource_younger_than_the_window_is_not_idle():
    estate = Estate()
    young = balancer(created=T0 - 3 * DAY)
    estate.scan(T0, young.type, [young])
    assert estate.metrics(T0, young.type, {young.uid: {"requests": 0.0}}) == []


def test_a_load_balancer_without_listeners_is_waste_without_metrics():
    estate = Estate()
    bare, fresh = balancer(listeners=()), balancer(listeners=(), created=T0 - DAY)
    found = only(estate.scan(T0, bare.type, [bare]))
    assert (found.pattern, found.evidence, found.since) == ("idle-load-balancer", {"listeners": 0}, T0 - 30 * DAY)
    assert Estate().scan(T0, fresh.type, [fresh]) == []  # a day old: its listeners may be on the way


def fronted(*groups, listeners=({"port": 443},)):
    """A balancer whose target groups have (targets, healthy) targets, as the collector shapes them."""
    shaped = [{"name": f"tg-{n}", "target_type": "instance", "targets": t, "healthy": h} for n, (t, h) in enumerate(groups)]
    health = {"groups": shaped, "targets": sum(t for t, _ in groups), "healthy": sum(h for _, h in groups)}
    return resource("elbv2.load-balancer", "app/web/1", type="application", scheme="internet-facing",
                    listeners=list(listeners), created_time=(T0 - 30 * DAY).isoformat(), target_health=health)


def test_a_load_balancer_with_no_healthy_target_is_waste_after_the_threshold_and_resolved_when_one_is():
    estate = Estate(idle_threshold="2d")
    assert estate.scan(T0, "elbv2.load-balancer", [fronted((2, 2))]) == []
    assert estate.scan(T0 + DAY, "elbv2.load-balancer", [fronted((2, 0), (1, 0))]) == []  # a day: a deploy, maybe
    found = only(estate.scan(T0 + 4 * DAY, "elbv2.load-balancer", [fronted((2, 0), (1, 0))]))
    assert (found.pattern, found.status, found.since) == ("no-healthy-targets", "open", T0 + DAY)
    assert found.reason == "no healthy targets for 3 days"
    assert found.evidence == {"target_groups": [{"name": "tg-0", "targets": 2, "healthy": 0},
                                                {"name": "tg-1", "targets": 1, "healthy": 0}],
                              "targets": 3, "healthy": 0}
    assert found.units == {"load_balancers": 1, "lb_type": "application", "scheme": "internet-facing",
                           "hours_idle": 72, "target_groups": 2, "targets": 3}
    resolved = only(estate.scan(T0 + 5 * DAY, "elbv2.load-balancer", [fronted((2, 1), (1, 0))]))
    assert (resolved.pattern, resolved.status) == ("no-healthy-targets", "resolved")


def test_no_target_or_no_target_group_is_no_healthy_target():
    estate = Estate(idle_threshold="0s")
    empty_group = only(estate.scan(T0, "elbv2.load-balancer", [fronted((0, 0))]))
    assert (empty_group.evidence["targets"], empty_group.units["target_groups"]) == (0, 1)
    no_group = only(Estate(idle_threshold="0s").scan(T0, "elbv2.load-balancer", [fronted()]))
    assert no_group.evidence == {"target_groups": [], "targets": 0, "healthy": 0}


def test_target_health_not_read_or_no_listeners_raise_no_finding_of_this_rule():
    from streams.analyzers.waste.analyzer import usage_of
    from streams.analyzers.waste.rules import no_healthy_targets
    from streams.analyzers.waste.subject import Subject, Unknown

    estate = Estate(idle_threshold="0s")
    unread = balancer()  # stored before Elava read target health
    assert [f for f in estate.scan(T0, unread.type, [unread]) if f.pattern == "no-healthy-targets"] == []
    head = estate.store.head_lead(unread.uid).full()
    verdict = no_healthy_targets(Subject(head, T0, estate.analyzer.waste, usage_of(unread.type), None,
                                         lambda: estate.store.versions(unread.uid)))
    assert isinstance(verdict, Unknown) and "target health" in verdict.lacking[0]
    bare = fronted(listeners=())
    assert patterns(Estate(idle_threshold="0s").scan(T0, bare.type, [bare])) == [("idle-load-balancer", "open")]


def test_an_oversized_instance_appears_updates_and_resolves_as_its_cpu_moves():
    estate = Estate()
    big = instance()
    estate.scan(T0, big.type, [big])
    opened = only(estate.metrics(T0 + DAY, big.type, {big.uid: {"cpu": 3.2}}))
    assert (opened.pattern, opened.evidence["cpu_p95_percent"], opened.units["normalized_units"]) == (
        "oversized-instance", 3, 32.0)
    assert estate.metrics(T0 + 2 * DAY, big.type, {big.uid: {"cpu": 3.4}}) == []  # the same whole percent
    updated = only(estate.metrics(T0 + 3 * DAY, big.type, {big.uid: {"cpu": 6.0}}))
    assert (updated.status, updated.since, updated.evidence["cpu_p95_percent"]) == ("updated", opened.since, 6)
    assert only(estate.metrics(T0 + 4 * DAY, big.type, {big.uid: {"cpu": 45.0}})).status == "resolved"


@pytest.mark.parametrize("made", [
    lambda: instance(instance_type="t3.large"),  # below oversized_min_size (2xlarge)
    lambda: instance("stopped"),  # not running: the stopped-instance rule's business
    lambda: instance(launch_time=(T0 - 2 * DAY).isoformat()),  # started within the window
])
def test_small_stopped_or_recently_started_instances_are_not_oversized(made):
    estate = Estate()
    subject = made()
    estate.scan(T0, subject.type, [subject])
    assert [f for f in estate.metrics(T0, subject.type, {subject.uid: {"cpu": 1.0}})
            if f.pattern == "oversized-instance"] == []


def test_instance_sizes_in_normalization_units():
    assert [instance_factor(t) for t in ("t3.nano", "m5.large", "m5.xlarge", "c6i.24xlarge", "db.r5.2xlarge",
                                         "m5.metal", "weird")] == [0.25, 4.0, 8.0, 192.0, 16.0, 192.0, None]
