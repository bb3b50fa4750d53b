"""`elava related` on an embedded store built in a temporary directory."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from elava.cli.main import app
from streams.observe import Observer
from streams.store.kv import RocksKV
from streams.store.versioned import VersionStore
from tests.unit.streams.fixtures import T0, page
from tests.unit.streams.test_relations import instance, res, uid

GROUP, INSTANCE = uid("ec2.security-group", "sg-web"), uid("ec2.instance", "i-1")


@pytest.fixture
def config(tmp_path):
    kv = RocksKV(tmp_path / "store")
    observer = Observer(VersionStore(kv))
    observer.observe(page([res("ec2.security-group", "sg-web", vpc_id="vpc-1", ingress=[])], T0, scan="a"))
    observer.observe(page([instance(["sg-web"])], T0 + timedelta(hours=1), scan="b"))
    observer.observe(page([instance([])], T0 + timedelta(hours=3), scan="c"))  # left the group
    kv.close()
    path = tmp_path / "elava.yaml"
    path.write_text(f"storage:\n  path: {tmp_path / 'store'}\n")
    return path


def run(*args):
    return CliRunner().invoke(app, ["related", *map(str, args)], env={"COLUMNS": "220"})


def test_what_uses_a_group_then_and_now(config):
    then = run("sg-web", "--at", (T0 + timedelta(hours=2)).isoformat(), "-c", config)
    assert then.exit_code == 0, then.output
    used_by = then.stdout.split("used by", 1)[1]
    assert "security-groups" in used_by and "i-1" in used_by
    now = run("sg-web", "-c", config)
    assert now.exit_code == 0 and "used by: nothing" in now.stdout


def test_json_and_what_is_not_observed(config):
    result = run(INSTANCE, "--at", (T0 + timedelta(hours=2)).isoformat(), "--output", "json", "-c", config)
    assert result.exit_code == 0, result.output
    [found] = [json.loads(line) for line in result.stdout.splitlines()]
    assert (found["uid"], found["type"], found["observed"]) == (INSTANCE, "ec2.instance", True)
    uses = {u["relation"]: u for u in found["uses"]}
    assert uses["security-groups"]["uid"] == GROUP and uses["security-groups"]["observed"] is True
    assert uses["subnet"]["observed"] is False and uses["subnet"]["type"] is None  # never scanned here


def test_an_arn_elava_does_not_observe_can_still_be_asked(config):
    profile = "arn:aws:iam::111122223333:instance-profile/web"
    result = run(profile, "--at", (T0 + timedelta(hours=2)).isoformat(), "--output", "json", "-c", config)
    assert result.exit_code == 0, result.output
    assert [u["uid"] for u in json.loads(result.stdout)["used_by"]] == [INSTANCE]
    assert run("sg-nope", "-c", config).exit_code == 1
    assert run("sg-web", "--depth", "9", "-c", config).exit_code == 2
