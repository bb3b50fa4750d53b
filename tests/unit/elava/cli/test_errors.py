"""What a user can cause or meet ends in one line on stderr and a documented exit code.

Each command runs as a user runs it (`python -m elava`, a narrow terminal, no AWS
configuration in the home folder); `--debug` or ELAVA_DEBUG=1 adds the traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from elava.demo.simulated import free_port

ROOT = Path(__file__).resolve().parents[4]
AWS_NAMES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
             "AWS_ENDPOINT_URL", "AWS_DEFAULT_PROFILE")


@pytest.fixture
def user_env(tmp_path):
    """A shell with no AWS credentials anywhere, a 40-column terminal and no elava.yaml."""
    env = {name: value for name, value in os.environ.items() if name not in AWS_NAMES}
    env.update(HOME=str(tmp_path), COLUMNS="40", AWS_EC2_METADATA_DISABLED="true",
               AWS_CONFIG_FILE=str(tmp_path / "aws-config"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "aws-creds"),
               ELAVA_STORAGE__PATH=str(tmp_path / "store"), ELAVA_WORKER__DATA_DIR=str(tmp_path / "worker"),
               PYTHONPATH=str(ROOT))  # this checkout's elava, also when run from another folder
    return env


def elava(env, *args, cwd=None):
    return subprocess.run([sys.executable, "-m", "elava", *args], capture_output=True, text=True, env=env,
                          timeout=120, cwd=cwd)


def error_line(done, code: int) -> str:
    """The one line the command printed on stderr (asserting there is exactly one, and no traceback)."""
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.mark.parametrize("command", [["worker"], ["collect"], ["executor"], ["topics", "create"], ["demo"],
                                     ["collect", "--serve"], ["schedule", "--once"]])
def test_an_unreachable_broker_is_one_line_naming_it(user_env, command):
    address = f"127.0.0.1:{free_port()}"
    line = error_line(elava(user_env, *command, "-b", address), 1)
    assert f"no Kafka broker answers at {address} (kafka.bootstrap_servers)" in line
    assert "Connect call failed" in line  # why, as aiokafka saw it


def test_missing_credentials_are_one_line(user_env):
    line = error_line(elava(user_env, "scan", "-t", "ec2.instance"), 1)
    assert "no AWS credentials" in line and "AWS_PROFILE" in line


@pytest.fixture
def strict_moto():
    """A moto server that checks credentials: keys it never issued are refused."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              env={**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "0"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(10)


def test_refused_credentials_are_one_line(user_env, strict_moto):
    env = {**user_env, "AWS_ACCESS_KEY_ID": "AKIAUNKNOWNKEY", "AWS_SECRET_ACCESS_KEY": "wrong"}
    line = error_line(elava(env, "scan", "-t", "ec2.instance", "--endpoint-url", strict_moto), 1)
    assert "AWS refused the credentials (InvalidClientTokenId on GetCallerIdentity)" in line


def test_an_unreachable_endpoint_is_one_line(user_env):
    env = {**user_env, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    endpoint = f"http://127.0.0.1:{free_port()}"
    line = error_line(elava(env, "scan", "-t", "ec2.instance", "--endpoint-url", endpoint), 1)
    assert f"cannot reach AWS: Could not connect to the endpoint URL: \"{endpoint}/\"" in line


@pytest.mark.parametrize("command", [["history", "sg-1"], ["at", "now"], ["changes", "--since", "2h"], ["who", "sg-1"]])
def test_a_missing_store_is_one_line(user_env, tmp_path, command):
    line = error_line(elava(user_env, *command), 1)
    assert f"no store at {tmp_path / 'store'} yet" in line


def test_a_yaml_syntax_error_names_the_file_and_line(user_env, tmp_path):
    config = tmp_path / "elava.yaml"
    config.write_text("kafka:\n  partitions: 3\n  topic_prefix: [elava\nstorage: {}\n")
    line = error_line(elava(user_env, "scan", "--config", str(config)), 2)
    assert f"settings file {config}, line 4, column 8, is not valid YAML" in line
    assert "<unicode string>" not in line


def test_a_yaml_error_in_the_local_elava_yaml_names_it(user_env, tmp_path):
    (tmp_path / "elava.yaml").write_text("kafka:\n\tpartitions: 3\n")
    env = {name: value for name, value in user_env.items() if name != "ELAVA_CONFIG"}
    line = error_line(elava(env, "topics", "list", cwd=tmp_path), 2)
    assert "settings file elava.yaml, line 2, column 1, is not valid YAML" in line


def test_several_bad_settings_still_make_one_line(user_env):
    env = {**user_env, "ELAVA_KAFKA__PARTITIONS": "0", "ELAVA_KAFKA__PAGE_SIZE": "0"}
    line = error_line(elava(env, "topics", "list"), 2)
    assert "invalid setting 'kafka.partitions'" in line and "invalid setting 'kafka.page_size'" in line


@pytest.mark.parametrize("how", ["option", "environment"])
def test_debug_shows_the_traceback_above_the_line(user_env, how):
    address = f"127.0.0.1:{free_port()}"
    if how == "option":
        done = elava(user_env, "--debug", "topics", "create", "-b", address)
    else:
        done = elava({**user_env, "ELAVA_DEBUG": "1"}, "topics", "create", "-b", address)
    assert done.returncode == 1
    assert "Traceback (most recent call last)" in done.stderr
    assert "aiokafka.errors.KafkaConnectionError" in done.stderr  # the cause, chained
    assert done.stderr.strip().splitlines()[-1].startswith(f"error: no Kafka broker answers at {address}")


def test_usage_errors_keep_their_code(user_env):
    done = elava(user_env, "scan", "--no-such-option")
    assert done.returncode == 2 and "No such option" in done.stderr


def test_an_unexpected_error_is_one_line_pointing_at_debug(monkeypatch):
    from typer.testing import CliRunner

    from elava.cli.main import app

    def broken(*args):
        raise RuntimeError("the [bold]unforeseen[/bold]\nhappened")

    monkeypatch.setattr("elava.cli.scan.run_scan_command", broken)
    result = CliRunner().invoke(app, ["scan"], env={"COLUMNS": "40"})
    assert result.exit_code == 1
    assert result.stderr == ("error: unexpected RuntimeError: the [bold]unforeseen[/bold]; happened "
                             "(elava --debug shows the traceback)\n")


def test_the_one_error_of_a_task_group_is_the_one_described():
    from botocore.exceptions import NoCredentialsError

    from elava.cli.errors import describe

    message, code = describe(ExceptionGroup("scan", [NoCredentialsError()]))
    assert message.startswith("no AWS credentials") and code == 1


def test_an_aws_refusal_that_is_not_about_credentials_says_what_aws_answered():
    from botocore.exceptions import ClientError

    from elava.cli.errors import describe

    error = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}, "ListAccounts")
    assert describe(error) == ("AWS answered AccessDeniedException to ListAccounts: not allowed", 1)
