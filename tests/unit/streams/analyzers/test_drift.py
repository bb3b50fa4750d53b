from datetime import timedelta

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


def test_private_ssh_rule_is_low():
    assert drift_for(modify(sg("sg-1"), sg("sg-1", ingress=[OFFICE_SSH]))).severity == "low"


def test_owner_tag_removal_is_medium():
    drift = drift_for(modify(sg("sg-1", {"owner": "alice"}), sg("sg-1", {})))
    assert drift.severity == "medium"
    assert drift.summary == "tag owner removed (was 'alice')"


def test_drift_id_is_stable_for_the_same_change():
    change = modify(sg("sg-1", {"owner": "a"}), sg("sg-1", {"owner": "b"}))
    assert drift_for(change).event_id == drift_for(change).event_id
