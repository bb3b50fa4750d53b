"""The README holds on a fresh machine: every command it shows runs as written.

The commands are read from README.md itself (its bash blocks, and the commands it
quotes inline), so a command added there fails here until it is run here. They run
in a user's folder holding the README's sample elava.yaml, against a simulated AWS
account and the session's Kafka broker, with fresh data folders. What is machine-
specific comes from the environment, as the README says settings can: the broker
address, the AWS endpoint, the store and worker folders, the query API port. One
substitution is made: ``sg-0abc`` is the README's example of a security group id,
which AWS (here moto) chooses, so it stands for the group created here. Where a
command shows something only after an event, the event is made first: RDP opened on
the group before `elava scan --output ocsf`, a page the worker put aside before
`elava dlq list`.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest

from elava.demo.simulated import CREDENTIALS, free_port
from elava.settings import load_settings
from tests.integration.readme_runners import RUNS, Shell

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"

# Commands of the README not run here, and why.
NOT_RUN = {
    "python3 -m pip install .": "installs; the test runs this checkout (PYTHONPATH)",
    "scripts/test": "runs the whole suite, of which this test is a part",
    "bash deploy/kafka/kafka.sh start": "the session's broker is started by this very script (conftest.py)",
}


def readme_commands() -> list[str]:
    """The README's commands in order: each line of its bash blocks (split at `&&`, comments
    dropped, a trailing `&` kept), then the examples it quotes in its prose (`elava demo -b
    ...`; a bare `elava scan` there names a command, shown with its options in a block)."""
    text = README.read_text()
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            part: list[str] = []
            for word in [*shlex.split(line, comments=True), "&&"]:
                if word != "&&":
                    part.append(word)
                elif part:
                    commands.append(_shell_words(part))
                    part = []
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    commands += [quoted for quoted in re.findall(r"`(elava [^`]+ [^`]+)`", prose) if quoted not in commands]
    return commands


def _shell_words(words: list[str]) -> str:
    """Words back into one command, quoted where the shell needs it (a trailing `&` as it is)."""
    return " ".join(word if word == "&" else shlex.quote(word) for word in words)


def test_the_readme_commands_are_the_ones_this_test_runs():
    assert set(readme_commands()) == set(RUNS) | set(NOT_RUN), "README.md and tests/integration/readme_runners.py differ"


def sample_config() -> str:
    """The README's sample settings: the yaml block that starts with ``# elava.yaml``."""
    (block,) = [b for b in re.findall(r"```yaml\n(.*?)```", README.read_text(), flags=re.S)
                if b.startswith("# elava.yaml")]
    return block


def test_the_tiers_the_readme_uses_are_in_its_sample(tmp_path):
    (tmp_path / "elava.yaml").write_text(sample_config())
    tiers = {tier.name for tier in load_settings(tmp_path / "elava.yaml").tiers}
    used = [set(m.split(",")) for c in readme_commands() for m in re.findall(r"--tiers (\S+)", c)]
    assert used and all(names <= tiers for names in used)


def plant(account) -> dict[str, str]:
    """What the README's examples look at: an untracked security group open to the world
    (for --risk-only), an instance of the production tier (for --tiers) and a bucket."""
    ec2 = account.client("ec2")
    group = ec2.create_security_group(GroupName="web", Description="web servers")["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    instance = ec2.run_instances(ImageId="ami-12c6146b", InstanceType="t3.micro", MinCount=1, MaxCount=1,
                                 SecurityGroupIds=[group],  # for `elava related`: the group is used by it
                                 TagSpecifications=[{"ResourceType": "instance", "Tags": [
                                     {"Key": "env", "Value": "prod"}, {"Key": "owner", "Value": "alice"}]}],
                                 )["Instances"][0]["InstanceId"]
    account.client("s3").create_bucket(Bucket="readme-logs")
    return {"group": group, "instance": instance}


@pytest.fixture
def shell(tmp_path, kafka_bootstrap, account):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "elava.yaml").write_text(sample_config())
    (folder / "policies").symlink_to(ROOT / "policies")  # the sample's policies.path: ./policies/
    planted = plant(account)
    run = f"readme-{free_port()}"
    env = {name: value for name, value in os.environ.items() if not name.startswith("ELAVA_") or
           name.startswith("ELAVA_TEST_")}
    env.update({name.upper(): value for name, value in CREDENTIALS.items()})
    env.update(
        PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", COLUMNS="80", HOME=str(tmp_path / "home"),
        XDG_DATA_HOME=str(tmp_path / "home" / ".local" / "share"),  # nothing in it yet, as on a fresh machine
        AWS_ENDPOINT_URL=account.endpoint_url, AWS_DEFAULT_REGION="us-east-1",
        ELAVA_KAFKA__BOOTSTRAP_SERVERS=kafka_bootstrap, ELAVA_STORAGE__PATH=str(tmp_path / "store"),
        # Apart from other tests on the session's broker and other workers on this host:
        ELAVA_KAFKA__TOPIC_PREFIX=run, ELAVA_WORKER__APP_ID=run, ELAVA_EXECUTOR__APP_ID=f"{run}-executor",
        ELAVA_COLLECTOR__GROUP_ID=f"{run}-collectors", ELAVA_POLICIES__APP_ID=f"{run}-policies",
        ELAVA_WORKER__WEB_PORT=str(free_port()))
    shell = Shell(folder, env, planted, account)
    try:
        yield shell
    finally:
        shell.stop_all()


def test_every_readme_command_runs_as_written(shell, kafka_bootstrap):
    for command in readme_commands():
        if command in NOT_RUN:
            continue
        RUNS[command](shell, command.replace("127.0.0.1:9092", kafka_bootstrap))
    shell.stop_all()
    for service in shell.background:
        assert "Traceback" not in service.output(), f"{service.command}: {service.output()[-3000:]}"
