from datetime import timedelta

import pytest

from streams.analyzers.drift import drift_for
from streams.observe import Observer
from streams.store.kv import MemoryKV
from streams.store.versioned import VersionStore
from tests.unit.streams.fixtures import T0, page, sg

HTTPS = {"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr": "0.0.0.0/0"}
SSH = {"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "0.0.0.0/0"}
OFFICE_SSH = {"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "10.0.0.0/8"}


def modify(before, after):
    observer = Observer(VersionStore(MemoryKV()))
    observer.observe(page([before], T0, scan="s1"))
    (change,) = observer.observe(page([after], T0 + timedelta(minutes=1), scan="s2"))
    return change


def test_creation_is_not_drift():
    observer = Observer(VersionStore(MemoryKV()))
    (change,) = observer.observe(page([sg("sg-1")], T0))
    assert drift_for(change) is None


def test_ssh_to_the_world_is_critical_and_readable():
    drift = drift_for(modify(sg("sg-1", ingress=[HTTPS]), sg("sg-1", ingress=[HTTPS, SSH])))
    assert drift.severity == "critical"
    assert drift.summary == "ingress rule added: tcp port 22 from 0.0.0.0/0"


def rule(port, peer="0.0.0.0/0", protocol="tcp", to_port=None):
    target = "ipv6_cidr" if ":" in peer else "cidr"
    return {"protocol": protocol, "from_port": port, "to_port": port if to_port is None else to_port, target: peer}


@pytest.mark.parametrize(("opened", "severity"), [
    (rule(22), "critical"),
    (rule(3389, "::/0"), "critical"),  # RDP, over IPv6
    (rule(3389, protocol="udp"), "critical"),
    (rule(0, to_port=65535), "critical"),  # a range that holds an admin port
    ({"protocol": "-1", "cidr": "0.0.0.0/0"}, "critical"),  # all traffic: no ports at all
    (rule(443), "high"),
    (rule(5432, "::/0"), "high"),  # a database port is exposed, but not an admin port
    (rule(23, to_port=3388), "high"),  # between the admin ports, holding neither
    (rule(22, "10.0.0.0/8"), "low"),  # not the world
    (rule(3389, "2001:db8::/32"), "low"),
])
def test_a_port_opened_to_the_world_is_critical_for_admin_ports_and_high_for_others(opened, severity):
    assert drift_for(modify(sg("sg-1"), sg("sg-1", ingress=[opened]))).severity == severity


def test_egress_to_the_world_is_not_exposure():
    group = sg("sg-1")
    before, after = (group.model_copy(update={"attributes": {**group.attributes, "egress": egress}})
                     for egress in ([], [rule(22)]))
    drift = drift_for(modify(before, after))
    assert (drift.severity, drift.summary) == ("low", "egress rule added: tcp port 22 from 0.0.0.0/0")


def test_the_worst_change_gives_the_severity():
    drift = drift_for(modify(sg("sg-1", {"owner": "alice"}, ingress=[OFFICE_SSH]),
                             sg("sg-1", {}, ingress=[OFFICE_SSH, rule(8080)])))
    assert drift.severity == "high"  # the owner tag removed alone is medium


def test_private_ssh_rule_is_low():
    assert drift_for(modify(sg("sg-1"), sg("sg-1", ingress=[OFFICE_SSH]))).severity == "low"


def test_owner_tag_removal_is_medium():
    drift = drift_for(modify(sg("sg-1", {"owner": "alice"}), sg("sg-1", {})))
    assert drift.severity == "medium"
    assert drift.summary == "tag owner removed (was 'alice')"


def test_drift_id_is_stable_for_the_same_change():
    change = modify(sg("sg-1", {"owner": "a"}), sg("sg-1", {"owner": "b"}))
    assert drift_for(change).event_id == drift_for(change).event_id


OLD_KEY = "redacted:hmac-sha256:0a0a0a0a:" + "1" * 32
NEW_KEY = "redacted:hmac-sha256:0b0b0b0b:" + "2" * 32
SAME_KEY_OTHER_SECRET = "redacted:hmac-sha256:0a0a0a0a:" + "3" * 32
LEGACY = "redacted:sha256:" + "4" * 16


def test_a_secret_redacted_again_under_a_rotated_key_is_a_version_but_not_drift():
    for before in (OLD_KEY, LEGACY):  # a rotated key, or the switch from unkeyed digests
        change = modify(sg("sg-1", {"db_password": before}), sg("sg-1", {"db_password": NEW_KEY}))
        assert change.kind == "modified" and [c.path for c in change.diff] == ["tags.db_password"]
        assert drift_for(change) is None


def test_a_changed_secret_under_the_same_key_is_drift():
    drift = drift_for(modify(sg("sg-1", {"db_password": OLD_KEY}), sg("sg-1", {"db_password": SAME_KEY_OTHER_SECRET})))
    assert drift is not None and [c.path for c in drift.diff] == ["tags.db_password"]


def test_a_rotation_does_not_hide_the_real_drift_beside_it():
    before = sg("sg-1", {"owner": "alice", "db_password": OLD_KEY})
    after = sg("sg-1", {"db_password": NEW_KEY})
    drift = drift_for(modify(before, after))
    assert drift.severity == "medium" and [c.path for c in drift.diff] == ["tags.owner"]


def test_a_rotated_secret_inside_a_list_item_is_not_drift_but_a_new_item_is():
    rule = {"protocol": "tcp", "from_port": 5432, "to_port": 5432, "cidr": "10.0.0.0/8"}
    before = sg("sg-1", ingress=[{**rule, "auth_token": OLD_KEY}])
    assert drift_for(modify(before, sg("sg-1", ingress=[{**rule, "auth_token": NEW_KEY}]))) is None
    moved = {**rule, "from_port": 5433, "to_port": 5433, "auth_token": NEW_KEY}
    drift = drift_for(modify(before, sg("sg-1", ingress=[moved])))
    assert drift is not None and {c.op for c in drift.diff} == {"add", "remove"}
