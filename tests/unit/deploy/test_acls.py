"""deploy/kafka/acls.sh grants what docs/operations.md says it does (the integration test runs it)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def granted(**env: str) -> list[str]:
    done = subprocess.run(["bash", str(ROOT / "deploy" / "kafka" / "acls.sh"), "echo", "kafka-acls.sh"],
                          capture_output=True, text=True, check=True, env={**os.environ, **env})
    return [line.removeprefix("kafka-acls.sh ") for line in done.stdout.splitlines()]


def test_the_documented_commands_are_the_ones_the_script_runs():
    docs = (ROOT / "docs" / "operations.md").read_text()
    block = re.search(r"With the defaults it runs.*?\n```\n(.*?)```", docs, re.S).group(1)
    assert block.splitlines() == granted()


def test_only_the_worker_writes_actions_and_only_the_executor_reads_them():
    lines = granted()
    writers = [line for line in lines if "--operation Write" in line and "elava.actions" in line.split()]
    readers = [line for line in lines if "--operation Read" in line and "elava.actions" in line.split()]
    assert [w.split()[2] for w in writers] == ["User:elava-worker"]
    assert [r.split()[2] for r in readers] == ["User:elava-executor"]


def test_names_follow_the_installation_settings():
    lines = granted(ELAVA_TOPIC_PREFIX="acme", ELAVA_WORKER="User:CN=worker.acme", ELAVA_WORKER_APP="acme-w")
    assert "--add --allow-principal User:CN=worker.acme --operation All --resource-pattern-type prefixed " \
           "--topic acme-w-" in lines
    assert all("elava." not in line for line in lines)
