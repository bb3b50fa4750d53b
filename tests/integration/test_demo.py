"""The demo story through both drivers: the same changes, drift and policy findings, embedded and on Kafka."""

from __future__ import annotations

import pytest

from elava.demo.drivers import EmbeddedDriver, KafkaDriver
from elava.demo.run import play_story
from elava.demo.simulated import SimulatedAccount

pytestmark = pytest.mark.integration


def comparable(played) -> list:
    """What must agree between drivers; ids and times differ between two moto accounts."""
    acts = []
    for act in played:
        changes = sorted(
            (c.kind, c.type, c.resource.name if c.resource else None, c.previous_version, c.new_version,
             sorted((d.path, d.op) for d in c.diff))
            for c in act.result.changes
        )
        drift = sorted((d.type, d.severity, d.summary, d.out_of_band) for d in act.result.drift)
        patterns = sorted((p.pattern, p.type, p.name) for p in act.result.patterns)
        # Messages name resource ids, which differ between the two accounts: policy and count.
        findings = sorted((d.policy, d.decision, len(d.messages)) for d in act.result.decisions)
        actions = sorted((a.policy, a.action, a.mode, a.destructive) for a in act.result.actions)
        waste = sorted((w.type, w.pattern, w.status, tuple(sorted(w.units.items()))) for w in act.result.waste)
        acts.append((act.title, act.partial, changes, drift, findings, actions, patterns, waste))
    return acts


async def play(driver) -> list:
    with SimulatedAccount() as account:
        account.reset()  # moto's state is per process: start each story from an empty account
        await driver.start()
        try:
            return await play_story(driver, account)
        finally:
            await driver.stop()


async def test_embedded_and_kafka_drivers_tell_the_same_story(kafka_bootstrap, tmp_path):
    embedded = comparable(await play(EmbeddedDriver(tmp_path / "embedded")))
    streamed = comparable(await play(KafkaDriver(kafka_bootstrap, tmp_path)))
    assert streamed == embedded
    assert [w[:3] for act in embedded for w in act[-1]] == [("ec2.volume", "unattached-volume", "open")]

    created, ssh, untagged, by_hand, terminated = embedded
    assert {(kind, type_, name) for kind, type_, name, *_ in created[2]} >= {
        ("created", "ec2.instance", "web-1"), ("created", "ec2.security-group", "web"),
        ("created", "ec2.security-group", "api"), ("created", "ec2.volume", None),
        ("created", "s3.bucket", "elava-demo-logs")}
    assert ssh[3] == [("ec2.security-group", "critical", "ingress rule added: tcp port 22 from 0.0.0.0/0", False)]
    assert untagged[3] == [("ec2.instance", "medium", "tag owner removed (was 'alice')", False)]
    assert by_hand[3] == [("ec2.security-group", "high", "ingress rule added: tcp port 5432 from 10.0.0.0/8", True)]
    # the instance, and its root volume with it: both lived moments
    assert terminated[6] == [("short-lived", "ec2.instance", "web-1"), ("short-lived", "ec2.volume", None)]
    assert [(kind, type_, name) for kind, type_, name, *_ in terminated[2]] == [
        ("deleted", "ec2.instance", "web-1"), ("deleted", "ec2.volume", None)]
    # The shipped policies, in the default notify mode: SSH open to the world is denied and
    # announced; a missing owner tag is reported; a deleted resource is not evaluated.
    assert ("open_admin_ports", "deny", 1) in ssh[4] and ("open_admin_ports", "notify", "notify", False) in ssh[5]
    assert ("required_tags", "deny", 2) in untagged[4]
    assert terminated[4] == [] and terminated[5] == []
