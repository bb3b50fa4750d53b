"""A worker started as a child process gets its settings from the parent's: its static member
name, the retention it enforces."""

from __future__ import annotations

from elava.processes.worker_process import worker_env
from elava.settings import load_settings
from streams.drivers.worker.app import group_instance_id


def test_a_set_instance_id_reaches_the_child(tmp_path):
    settings = load_settings(None, worker__data_dir=str(tmp_path), worker__instance_id="worker-3")
    assert worker_env(settings)["ELAVA_WORKER__INSTANCE_ID"] == "worker-3"


def test_unset_the_child_derives_the_same_name_from_the_same_data_dir(tmp_path, monkeypatch):
    parent = load_settings(None, worker__data_dir=str(tmp_path))
    env = worker_env(parent)
    monkeypatch.delenv("ELAVA_WORKER__INSTANCE_ID", raising=False)
    child = load_settings(None, worker__data_dir=env["ELAVA_WORKER__DATA_DIR"],
                          worker__instance_id=env.get("ELAVA_WORKER__INSTANCE_ID"))
    assert group_instance_id(child.worker) == group_instance_id(parent.worker)


def test_the_retention_reaches_the_child(tmp_path, monkeypatch):
    parent = load_settings(None, worker__data_dir=str(tmp_path), storage__retention="90d")
    monkeypatch.setenv("ELAVA_STORAGE__RETENTION", worker_env(parent)["ELAVA_STORAGE__RETENTION"])
    assert load_settings(None).storage.retention == parent.storage.retention
