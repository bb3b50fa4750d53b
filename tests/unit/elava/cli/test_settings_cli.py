"""Bad settings stop start-up with a message naming the field."""

import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize("command", [["worker"], ["collect"], ["topics", "create"], ["scan"]])
def test_bad_setting_stops_startup_naming_the_field(command):
    env = {**os.environ, "ELAVA_KAFKA__PARTITIONS": "0"}
    done = subprocess.run([sys.executable, "-m", "elava", *command], capture_output=True, text=True, env=env,
                          timeout=60)
    assert done.returncode == 2
    assert "invalid setting 'kafka.partitions'" in done.stderr


def test_bad_yaml_field_is_named(tmp_path):
    config = tmp_path / "elava.yaml"
    config.write_text("policies:\n  enforcement_mode: destroy\n")
    done = subprocess.run([sys.executable, "-m", "elava", "topics", "create", "--config", str(config)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "invalid setting 'policies.enforcement_mode'" in done.stderr
