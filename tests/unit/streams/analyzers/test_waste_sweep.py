"""Between full sweeps (``analyzer.waste.sweep_interval``) a scan marker judges only the members
whose head changed since the shard's last judgement; a full sweep judges every member; the
same marker again selects the same members and re-emits the same findings."""

from __future__ import annotations

import random
from datetime import timedelta

from elava.analyzer_events import WasteFinding
from elava.events import Observation
from streams.store.keyspaces import changes_complete_key, judgement_key
from streams.store.versioned import to_micros
from streams.store.waste import WasteStore
from tests.unit.streams.analyzers.waste_estate import ACCOUNT, DAY, REGION, T0, Estate, resource, shard

MINUTE, SECOND = timedelta(minutes=1), timedelta(seconds=1)


def volume(rid: str, state: str = "available", created=T0 - 30 * DAY):
    return resource("ec2.volume", rid, state=state, size_gib=10, attached=state == "in-use", attachments=[],
                    create_time=created.isoformat())


def judged(estate: Estate) -> list[str]:
    """Records the uids the analyzer judges from now on (the real evaluation runs)."""
    seen: list[str] = []
    evaluate = estate.analyzer.evaluate

    def counting(uid, *args, **kwargs):
        seen.append(uid)
        return evaluate(uid, *args, **kwargs)

    estate.analyzer.evaluate = counting
    return seen


def statuses(found: list[WasteFinding]) -> list[tuple[str, str]]:
    return sorted((f.uid.rsplit("/", 1)[-1], f.status) for f in found)


def test_a_marker_within_the_interval_judges_only_the_changed_members():
    estate = Estate(sweep_interval="1h")
    fleet = [volume(f"vol-{n}", state="in-use") for n in range(5)]
    estate.scan(T0, "ec2.volume", fleet)
    seen = judged(estate)
    fleet[1] = resource("ec2.volume", "vol-1", tags={"owner": "team-b"}, state="in-use", size_gib=10, attached=True,
                        attachments=[], create_time=(T0 - 30 * DAY).isoformat())  # re-tagged
    fleet.append(volume("vol-5"))  # new, and unattached for a month
    found = estate.scan(T0 + 10 * MINUTE, "ec2.volume", fleet)
    assert sorted(uid.rsplit("/", 1)[-1] for uid in seen) == ["vol-1", "vol-5"]
    assert statuses(found) == [("vol-5", "open")]
    seen.clear()
    estate.scan(T0 + 61 * MINUTE, "ec2.volume", fleet)  # an hour after the last full sweep: every member
    assert len(seen) == 6


def test_a_threshold_crossed_without_a_change_is_found_at_the_next_full_sweep_not_before():
    estate = Estate(idle_threshold="90m", sweep_interval="1h")
    idle = [volume("vol-1", created=T0)]
    opened = {minutes: estate.scan(T0 + minutes * MINUTE, "ec2.volume", idle) for minutes in range(0, 121, 20)}
    # Full sweeps at 0 and 60 minutes (a marker finishes 30 s after its scan starts); idle 90 min at 90.
    assert [minutes for minutes, found in opened.items() if found] == [120]
    [finding] = opened[120]
    assert finding.status == "open" and finding.since == T0


def test_sweep_interval_zero_judges_every_member_on_every_marker():
    estate = Estate(idle_threshold="90m", sweep_interval="0s")
    idle = [volume("vol-1", created=T0), volume("vol-2", state="in-use")]
    estate.scan(T0, "ec2.volume", idle)
    seen = judged(estate)
    opened = {minutes: estate.scan(T0 + minutes * MINUTE, "ec2.volume", idle) for minutes in range(20, 121, 20)}
    assert [minutes for minutes, found in opened.items() if found] == [100]  # the first marker past 90 min
    assert len(seen) == 2 * 6


def test_a_deleted_resource_has_its_finding_resolved_on_the_next_marker_within_the_interval():
    estate = Estate(sweep_interval="1h")
    estate.scan(T0, "ec2.volume", [volume("vol-1"), volume("vol-2")])
    seen = judged(estate)
    found = estate.scan(T0 + 10 * MINUTE, "ec2.volume", [volume("vol-2")])
    assert statuses(found) == [("vol-1", "resolved")]
    assert found[0].reason == "the resource was deleted"
    assert [uid.rsplit("/", 1)[-1] for uid in seen] == ["vol-1"]  # vol-2, open and unchanged: not read


def test_a_redelivered_marker_re_emits_the_same_findings_and_writes_nothing():
    estate = Estate(idle_threshold="90m", sweep_interval="1h")
    crossed = volume("vol-0", created=T0 - 80 * MINUTE)  # idle 90 min by the second marker, unchanged
    estate.scan(T0, "ec2.volume", [crossed, volume("vol-1", state="in-use"), volume("vol-2")])
    later = [crossed, volume("vol-1", state="in-use"), volume("vol-3")]  # vol-2 deleted, vol-3 new
    first = estate.scan(T0 + 20 * MINUTE, "ec2.volume", later)
    assert statuses(first) == [("vol-2", "resolved"), ("vol-3", "open")]  # vol-0 waits for the sweep
    stored = dict(estate.store.kv._data)
    marker = estate.marker(T0 + 20 * MINUTE, "ec2.volume", later, f"scan-{estate.scans}")
    again = estate.analyzer.on_marker(marker)  # the marker again, as after a crash before publishing
    assert [(f.event_id, f.status) for f in again] == [(f.event_id, f.status) for f in first]
    assert estate.store.kv._data == stored


def test_an_older_marker_redelivered_after_a_newer_one_still_says_what_it_caused():
    estate = Estate(sweep_interval="1h")
    fleet = [volume("vol-1", state="in-use"), volume("vol-2", state="in-use")]
    estate.scan(T0, "ec2.volume", fleet)
    [opened] = estate.scan(T0 + 10 * MINUTE, "ec2.volume", [*fleet, volume("vol-3")])
    older = estate.marker(T0 + 10 * MINUTE, "ec2.volume", [*fleet, volume("vol-3")], f"scan-{estate.scans}")
    [other] = estate.scan(T0 + 20 * MINUTE, "ec2.volume", [*fleet, volume("vol-3"), volume("vol-4")])
    assert (opened.uid.rsplit("/", 1)[-1], other.uid.rsplit("/", 1)[-1]) == ("vol-3", "vol-4")
    # Both markers come again (the worker died before committing either): the first says its finding.
    assert estate.analyzer.on_marker(older) == [opened]


def test_a_rule_turned_off_resolves_its_findings_at_the_next_full_sweep():
    from elava.settings import WasteSettings
    from streams.analyzers.waste.analyzer import WasteAnalyzer

    estate = Estate(sweep_interval="1h")
    estate.scan(T0, "ec2.volume", [volume("vol-1")])
    estate.analyzer = WasteAnalyzer(estate.store, WasteSettings(disabled=["unattached-volume"], sweep_interval="1h"))
    assert estate.scan(T0 + 30 * MINUTE, "ec2.volume", [volume("vol-1")]) == []
    [resolved] = estate.scan(T0 + 60 * MINUTE, "ec2.volume", [volume("vol-1")])
    assert resolved.status == "resolved" and "no longer applies" in resolved.reason


def test_the_judgement_is_two_keys_per_shard_whatever_the_members():
    estate = Estate(sweep_interval="1h")
    fleet = [volume(f"vol-{n}") for n in range(20)]
    for minutes in (0, 10, 20, 70):
        estate.scan(T0 + minutes * MINUTE, "ec2.volume", fleet)
    keys = [key for key in estate.store.kv._data if key.startswith(b"j\x00")]
    assert keys == [judgement_key(shard("ec2.volume")), changes_complete_key(shard("ec2.volume"))]
    judgement = WasteStore(estate.store.kv).judgement(shard("ec2.volume"))
    assert judgement.full and judgement.at == to_micros(T0 + 70 * MINUTE + timedelta(seconds=30))


def test_a_change_observed_while_the_last_judged_scan_ran_is_judged_by_the_next_marker():
    """A page observed during the last judged scan but applied after its marker (another
    collector's overlapping scan): its change began before that marker, and is still judged."""
    estate = Estate(sweep_interval="1h")
    estate.scan(T0, "ec2.volume", [volume("vol-1", state="in-use")])  # the scan runs T0 .. T0 + 30 s
    late = Observation(scan_id="overlap", account=ACCOUNT, region=REGION, type="ec2.volume",
                       shard=shard("ec2.volume"), page=0, observed_at=T0 + timedelta(seconds=10),
                       resources=[volume("vol-2")])
    estate.processor.process(late)
    found = estate.scan(T0 + 10 * MINUTE, "ec2.volume", [volume("vol-1", state="in-use"), volume("vol-2")])
    assert statuses(found) == [("vol-2", "open")]


def heads_read_by_marker(estate: Estate, at, fleet: list) -> int:
    """One scan of ``fleet``; how many heads its marker's waste judgement read."""
    estate.scans += 1
    scan_id = f"scan-{estate.scans}"
    estate.processor.process(Observation(scan_id=scan_id, account=ACCOUNT, region=REGION, type="ec2.volume",
                                         shard=shard("ec2.volume"), page=0, observed_at=at, resources=fleet))
    marker = estate.marker(at, "ec2.volume", fleet, scan_id)
    estate.processor.process(marker)
    read, head_leads_of = [], estate.store.head_leads_of
    estate.store.head_leads_of = lambda uids: read.extend(uids) or head_leads_of(uids)
    try:
        estate.analyzer.on_marker(marker)
    finally:
        del estate.store.head_leads_of
    return len(read)


def test_between_full_sweeps_a_marker_reads_the_heads_of_the_changed_members_only():
    estate = Estate(sweep_interval="1h")
    fleet = [volume(f"vol-{n}", state="in-use") for n in range(50)]
    assert heads_read_by_marker(estate, T0, fleet) == 50  # a full sweep
    fleet[7] = volume("vol-7")  # detached
    assert heads_read_by_marker(estate, T0 + 10 * MINUTE, fleet) == 1
    assert heads_read_by_marker(estate, T0 + 20 * MINUTE, fleet) == 0
    assert heads_read_by_marker(estate, T0 + 70 * MINUTE, fleet) == 50  # the next full sweep


def without_shard_index(estate: Estate) -> None:
    """The store as an Elava that kept no time index by shard left it."""
    for key in [key for key in estate.store.kv._data if key[:1] == b"k" or key.endswith(b"\x00changes")]:
        del estate.store.kv._data[key]


def test_a_store_written_before_the_shard_index_still_has_its_changes_judged():
    estate = Estate(sweep_interval="1h")
    fleet = [volume(f"vol-{n}", state="in-use") for n in range(5)]
    estate.scan(T0, "ec2.volume", fleet)
    fleet[1] = volume("vol-1")  # detached, seen by the older Elava
    estate.processor.process(Observation(scan_id="old", account=ACCOUNT, region=REGION, type="ec2.volume",
                                         shard=shard("ec2.volume"), page=0, observed_at=T0 + 10 * MINUTE,
                                         resources=fleet))
    without_shard_index(estate)
    seen = judged(estate)
    estate.close(estate.marker(T0 + 10 * MINUTE, "ec2.volume", fleet, "old"))
    assert [uid.rsplit("/", 1)[-1] for uid in seen] == ["vol-1"]
    seen.clear()
    fleet[2] = volume("vol-2")
    assert heads_read_by_marker(estate, T0 + 20 * MINUTE, fleet) == 1  # the index is complete from here
    assert [uid.rsplit("/", 1)[-1] for uid in seen] == ["vol-2"]


def test_the_shard_index_selects_exactly_the_members_whose_head_changed():
    """Creations, modifications, deletions and pages applied after their scan's marker, over full
    sweeps and the markers between them: each marker judges what reading every head would."""
    rng = random.Random(7)
    estate = Estate(sweep_interval="1h")
    alive = {f"vol-{n}": volume(f"vol-{n}", state="in-use") for n in range(30)}
    seen, late = judged(estate), None
    for step in range(24):
        at = T0 + step * 7 * MINUTE
        for rid in rng.sample(sorted(alive), 4):
            alive[rid] = volume(rid, state=rng.choice(["in-use", "available"]))
        for rid in rng.sample(sorted(alive), 2):
            del alive[rid]
        alive[f"new-{step}"] = volume(f"new-{step}")
        if late is not None:
            estate.processor.process(late)  # observed during the last scan, applied after its marker
        late = Observation(scan_id=f"late-{step}", account=ACCOUNT, region=REGION, type="ec2.volume",
                           shard=shard("ec2.volume"), page=1, observed_at=at + 10 * SECOND,
                           resources=[volume(f"late-{step}")])
        seen.clear()
        estate.scan(at, "ec2.volume", list(alive.values()))
        assert seen == selected_by_reading_every_head(estate), f"step {step}"


def selected_by_reading_every_head(estate: Estate) -> list[str]:
    judgement = WasteStore(estate.store.kv).judgement(shard("ec2.volume"))
    members = list(estate.store.shard_members(shard("ec2.volume")))
    return [uid for uid, lead in zip(members, estate.store.head_leads_of(members), strict=True)
            if lead is not None and (judgement.full or lead.valid_from > judgement.changed_after)]
