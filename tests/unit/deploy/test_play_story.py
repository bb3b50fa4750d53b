"""deploy/compose/play_story.py: the demo's story played into a moto server that runs
elsewhere (here a real moto server on a loopback port, as the Compose stack's container),
and what a scan of that account then sees."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from elava.demo.simulated import SimulatedAccount
from elava.demo.story import STORY
from tests.unit.deploy.checks import REPO

SCRIPT = REPO / "deploy" / "compose" / "play_story.py"


def load_script():
    spec = importlib.util.spec_from_file_location("play_story", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def moto() -> Iterator[SimulatedAccount]:
    with SimulatedAccount() as account:
        yield account


def run_script(endpoint_url: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, str(SCRIPT), "--endpoint-url", endpoint_url, "--act-interval", "0"],
                          capture_output=True, text=True, env=env, timeout=120)


def web_groups(account: SimulatedAccount) -> list[dict]:
    groups = account.client("ec2").describe_security_groups()["SecurityGroups"]
    return [group for group in groups if group["GroupName"] == "web"]


def test_the_story_is_played_into_the_server_and_again_from_the_start(moto):
    for _ in range(2):  # a second `docker compose up` plays it again on the same moto
        done = run_script(moto.endpoint_url)
        assert done.returncode == 0, done.stderr
        assert done.stdout.count(" act ") == len(STORY)
        [group] = web_groups(moto)
        ports = sorted(rule["FromPort"] for rule in group["IpPermissions"])
        assert ports == [22, 443]  # act 2: SSH open to the world
    reservations = moto.client("ec2").describe_instances()["Reservations"]
    [instance] = [i for r in reservations for i in r["Instances"]]
    assert instance["State"]["Name"] == "terminated"  # act 4
    assert {t["Key"] for t in instance.get("Tags", [])} == {"Name"}  # act 3: the owner tag is gone
    tags = moto.client("s3").get_bucket_tagging(Bucket="elava-demo-logs")["TagSet"]
    assert tags == [{"Key": "owner", "Value": "bob"}]


def test_a_collectors_scan_sees_the_story(moto, tmp_path):
    assert run_script(moto.endpoint_url).returncode == 0
    env = {key: value for key, value in os.environ.items() if not key.startswith("ELAVA_")}
    env.update(PYTHONPATH=str(REPO), ELAVA_STORAGE__PATH=str(tmp_path / "store"),
               AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    done = subprocess.run([sys.executable, "-m", "elava", "scan", "--endpoint-url", moto.endpoint_url,
                           "--type", "ec2.security-group", "--type", "s3.bucket", "--output", "json"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    seen = {row["name"]: row for row in map(json.loads, done.stdout.splitlines())}
    assert "open to 0.0.0.0/0" in seen["web"]["risks"]
    assert seen["elava-demo-logs"]["tags"] == {"owner": "bob"}


def test_acts_are_spaced_by_the_interval(moto):
    script = load_script()
    slept, said = [], []
    script.play(script.RemoteAccount(moto.endpoint_url), 90.0, say=said.append, sleep=slept.append)
    assert slept == [90.0] * (len(STORY) - 1)  # between acts, not before the first
    assert len(said) == len(STORY)


def test_an_unreachable_server_fails_the_one_shot(tmp_path):
    script = load_script()
    with pytest.raises(OSError):
        script.wait_for_server("http://127.0.0.1:9", timeout=0)
