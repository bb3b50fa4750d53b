"""The worker's stages (policy, fleet) yield the CPU to it: started by their worker they run
worker.stage_nice nicer, with every thread and child they start after (the policy evaluator)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from elava.cli.main import app
from elava.settings import load_settings

# What a stage process does, in its own process (nice is the process's own): yield, then start
# a child from a thread, as the policy stage starts its evaluator; print both niceness values.
STAGE = """
import os, subprocess, sys, threading
from elava.processes.policy_supervisor import yield_cpu_to_worker
from elava.settings import load_settings

yield_cpu_to_worker(load_settings(None, worker__stage_nice=int(sys.argv[1])))
seen = []
def start_child():
    child = subprocess.run([sys.executable, "-c", "import os; print(os.nice(0))"], capture_output=True, text=True)
    seen.append(child.stdout.strip())
thread = threading.Thread(target=start_child)
thread.start(); thread.join()
print(os.nice(0), seen[0])
"""


def nicer_by(nice: int) -> tuple[int, int]:
    """How much nicer than this test's process a stage and its child run, told ``nice``."""
    done = subprocess.run([sys.executable, "-c", STAGE, str(nice)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    base = subprocess.run([sys.executable, "-c", "import os; print(os.nice(0))"], capture_output=True, text=True)
    own, child = (int(n) - int(base.stdout) for n in done.stdout.split())
    return own, child


def test_a_stage_and_the_children_it_starts_run_as_much_nicer_as_told():
    base = int(subprocess.run([sys.executable, "-c", "import os; print(os.nice(0))"],
                              capture_output=True, text=True).stdout)
    expected = min(base + 7, 19) - base  # Linux stops at 19
    assert nicer_by(7) == (expected, expected)


def test_a_stage_told_0_keeps_its_priority():
    assert nicer_by(0) == (0, 0)


def test_stages_yield_to_the_worker_by_default():
    assert load_settings(None).worker.stage_nice == 10


@pytest.mark.parametrize("command, stage", [("policy", "streams.drivers.worker.policy_stage"),
                                            ("fleet", "streams.drivers.worker.fleet_stage")])
@pytest.mark.parametrize("with_parent", [True, False])
def test_a_stage_yields_before_anything_starts_only_beside_its_worker(monkeypatch, command, stage, with_parent):
    import importlib

    import elava.kafka.clients
    import elava.processes.policy_supervisor
    import elava.telemetry

    calls = []

    async def serve(settings, ready_fd=None, with_parent=False):
        calls.append("serve")

    async def ensure_topics(kafka):
        calls.append("topics")

    monkeypatch.setattr(elava.processes.policy_supervisor, "yield_cpu_to_worker", lambda s: calls.append("nice"))
    monkeypatch.setattr(elava.telemetry, "configure", lambda *a, **k: calls.append("telemetry"))
    monkeypatch.setattr(elava.kafka.clients, "ensure_topics", ensure_topics)
    monkeypatch.setattr(importlib.import_module(stage), "serve", serve)
    result = CliRunner().invoke(app, [command, "serve", *(["--with-parent"] if with_parent else [])])
    assert result.exit_code == 0, result.output
    assert calls[0] == "nice" if with_parent else "nice" not in calls
    assert calls[-1] == "serve"
