"""The waste analyzer's lifecycle: raised once, updated on new evidence, resolved once; the
same input again gives the same events (ids) and changes nothing; a deleted resource's
findings are resolved; a failed scan decides nothing."""

from __future__ import annotations

from elava.analyzer_events import WasteFinding
from elava.settings import WasteSettings
from streams.analyzers.waste.analyzer import WasteAnalyzer
from streams.store.waste import WasteStore
from tests.unit.streams.analyzers.waste_estate import DAY, T0, Estate, resource


def unattached(rid="vol-1"):
    return resource("ec2.volume", rid, state="available", size_gib=10, attached=False, attachments=[],
                    create_time=(T0 - 30 * DAY).isoformat())


def current(estate: Estate) -> list[WasteFinding]:
    return [record.finding() for record in WasteStore(estate.store.kv).findings() if record.is_open]


def test_a_finding_is_raised_once_and_resolved_once_and_the_current_list_follows():
    estate = Estate()
    [opened] = estate.scan(T0, "ec2.volume", [unattached()])
    assert estate.scan(T0 + DAY, "ec2.volume", [unattached()]) == []
    assert [f.event_id for f in current(estate)] == [opened.event_id]
    attached = resource("ec2.volume", "vol-1", state="in-use", size_gib=10, attached=True, attachments=[],
                        create_time=(T0 - 30 * DAY).isoformat())
    [resolved] = estate.scan(T0 + 2 * DAY, "ec2.volume", [attached])
    assert (resolved.status, resolved.since, resolved.evidence) == ("resolved", opened.since, opened.evidence)
    assert resolved.event_id != opened.event_id and current(estate) == []
    assert estate.scan(T0 + 3 * DAY, "ec2.volume", [attached]) == []


def test_a_deleted_resource_has_its_findings_resolved():
    estate = Estate()
    estate.scan(T0, "ec2.volume", [unattached("vol-1"), unattached("vol-2")])
    [resolved] = estate.scan(T0 + DAY, "ec2.volume", [unattached("vol-2")])
    assert resolved.uid.endswith("vol-1")
    assert (resolved.status, resolved.reason) == ("resolved", "the resource was deleted")


def test_a_failed_scan_decides_nothing():
    estate = Estate()
    estate.scan(T0, "ec2.volume", [unattached()])
    failed = estate.marker(T0 + DAY, "ec2.volume", [], "scan-x", status="failed")
    assert estate.close(failed) == []
    assert len(current(estate)) == 1


def test_the_same_input_again_gives_the_same_events_and_changes_nothing():
    estate = Estate()
    [volume_scan] = [estate.marker(T0, "ec2.volume", [unattached()], "scan-1")]
    estate.scan(T0, "ec2.volume", [unattached()])  # page + marker "scan-1" at T0
    first = estate.analyzer.on_marker(volume_scan)  # the marker again, as after a crash
    assert [(f.status, f.event_id) for f in first] == [(f.status, f.event_id) for f in current(estate)]
    again = estate.analyzer.on_marker(volume_scan)
    assert [f.event_id for f in again] == [f.event_id for f in first]
    assert len(list(WasteStore(estate.store.kv).findings())) == 1


def test_metrics_replayed_after_later_ones_change_nothing():
    estate = Estate()
    big = resource("ec2.instance", "i-1", state="running", instance_type="m5.8xlarge",
                   launch_time=(T0 - 30 * DAY).isoformat())
    estate.scan(T0, big.type, [big])
    early = estate.metrics_message(T0 + DAY, big.type, {big.uid: {"cpu": 2.0}})
    late = estate.metrics_message(T0 + 2 * DAY, big.type, {big.uid: {"cpu": 60.0}})
    [opened] = estate.analyzer.on_metrics(early)
    [resolved] = estate.analyzer.on_metrics(late)
    assert resolved.status == "resolved"
    assert estate.analyzer.on_metrics(early) == []  # older than what is recorded: nothing re-opens
    assert estate.analyzer.on_metrics(late) == [resolved]  # the input that resolved it says so again
    history = list(WasteStore(estate.store.kv).samples_between(T0, T0 + 3 * DAY, big.uid))
    assert [sample.values["cpu"] for _, sample in history] == [2.0, 60.0]
    assert WasteStore(estate.store.kv).latest_sample(big.uid).values == {"cpu": 60.0}
    assert opened.status == "open"


def test_a_disabled_rule_raises_nothing_and_disabling_it_resolves_what_it_raised():
    estate = Estate(disabled=["unattached-volume"])
    assert estate.scan(T0, "ec2.volume", [unattached()]) == []
    estate = Estate()
    estate.scan(T0, "ec2.volume", [unattached()])
    estate.analyzer = WasteAnalyzer(estate.store, WasteSettings(disabled=["unattached-volume"]))
    [resolved] = estate.scan(T0 + DAY, "ec2.volume", [unattached()])
    assert resolved.status == "resolved" and "no longer applies" in resolved.reason


def test_the_analyzer_turned_off_raises_nothing():
    estate = Estate(enabled=False)
    assert estate.scan(T0, "ec2.volume", [unattached()]) == []


def test_types_without_usage_are_not_read():
    estate = Estate()
    group = resource("ec2.security-group", "sg-1", tags={}, ingress=[])
    assert estate.scan(T0, "ec2.security-group", [group]) == []
    assert estate.scan(T0 + 10 * DAY, "ec2.security-group", [group]) == []
