"""The worker's stages (policy, fleet) yield the CPU to it: beside their worker they run
worker.stage_nice nicer, and so do the children they start (the policy stage's evaluator)."""

from __future__ import annotations

import subprocess
import sys

from elava.settings import load_settings

# A stage run as `elava policy serve` runs it, in its own process (the nice value is the
# process's own): it prints its niceness and its child's, then stops.
STAGE = """
import asyncio, os, subprocess, sys
from streams.drivers.worker.policy_stage import run_until_stopped

async def run(stop, ready=None):
    child = subprocess.run([sys.executable, "-c", "import os; print(os.nice(0))"], capture_output=True, text=True)
    print(os.nice(0), child.stdout.strip())
    stop.set()

asyncio.run(run_until_stopped(run, "test stage", None, sys.argv[1] == "with-parent", int(sys.argv[2])))
"""


def niceness_of_stage(with_parent: bool, nice: int) -> tuple[int, int]:
    base = subprocess.run([sys.executable, "-c", "import os; print(os.nice(0))"], capture_output=True, text=True)
    done = subprocess.run([sys.executable, "-c", STAGE, "with-parent" if with_parent else "alone", str(nice)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    own, child = (int(n) - int(base.stdout) for n in done.stdout.split())
    return own, child


def test_a_stage_beside_its_worker_and_its_children_run_nicer():
    assert niceness_of_stage(with_parent=True, nice=7) == (7, 7)


def test_a_stage_run_apart_keeps_its_priority():
    assert niceness_of_stage(with_parent=False, nice=7) == (0, 0)


def test_stages_yield_to_the_worker_by_default():
    assert load_settings(None).worker.stage_nice == 10


async def test_both_stages_are_run_as_nice_as_the_setting_says(monkeypatch):
    from streams.drivers.worker import fleet_stage, policy_stage

    given = []

    async def run_until_stopped(run, label, ready_fd, with_parent, nice):
        given.append((label, nice))

    monkeypatch.setattr(policy_stage, "run_until_stopped", run_until_stopped)
    monkeypatch.setattr(fleet_stage, "settle_heap", lambda: None)
    monkeypatch.setattr(policy_stage, "settle_heap", lambda: None)
    settings = load_settings(None, worker__stage_nice=3)
    await policy_stage.serve(settings, with_parent=True)
    await fleet_stage.serve(settings, with_parent=True)
    assert given == [("policy stage", 3), ("fleet-pattern stage", 3)]
