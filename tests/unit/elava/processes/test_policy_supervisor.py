"""The worker's supervision of its policy stage, with small stand-in children (no broker)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from elava.processes.policy_supervisor import PolicyStageSupervisor, StageStartError

# A stand-in for `elava policy serve`: says ready on the fd it is given (if any), counts its
# starts in a file, then exits with the status the file of statuses says for this start.
CHILD = """
import os, sys, time
from pathlib import Path
args, work = sys.argv[1:], Path(sys.argv[1])
starts = work / "starts"
n = len(starts.read_text().splitlines()) if starts.exists() else 0
starts.write_text(starts.read_text() + "x\\n" if starts.exists() else "x\\n")
if "--ready-fd" in args:
    if (work / "fail-before-ready").exists():
        sys.exit(2)
    os.write(int(args[args.index("--ready-fd") + 1]), b"ready\\n")
codes = (work / "codes").read_text().split()
time.sleep(0.3)
if n < len(codes):
    sys.exit(int(codes[n]))
time.sleep(60)
"""


def supervisor(tmp_path: Path, codes: str) -> PolicyStageSupervisor:
    (tmp_path / "codes").write_text(codes)
    stage = PolicyStageSupervisor([])
    stage.argv = [sys.executable, "-c", CHILD, str(tmp_path)]
    return stage


def starts(tmp_path: Path) -> int:
    path = tmp_path / "starts"
    return len(path.read_text().splitlines()) if path.exists() else 0


def wait_for(condition, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_child_that_exits_before_it_is_ready_stops_the_start(tmp_path):
    (tmp_path / "fail-before-ready").touch()
    stage = supervisor(tmp_path, "")
    with pytest.raises(StageStartError) as caught:
        stage.start()
    assert caught.value.code == 2 and starts(tmp_path) == 1


def test_a_child_that_dies_is_started_again_and_stopped_with_the_worker(tmp_path):
    stage = supervisor(tmp_path, "3 1")  # fails twice, then runs
    stage.start()
    try:
        assert wait_for(lambda: starts(tmp_path) == 3), starts(tmp_path)
        running = stage.process
        assert wait_for(lambda: running.poll() is None) and running.poll() is None
    finally:
        stage.stop(timeout=5)
    assert running.poll() is not None and starts(tmp_path) == 3


def test_a_child_that_was_asked_to_stop_is_not_started_again(tmp_path):
    stage = supervisor(tmp_path, "0")
    stage.start()
    try:
        assert wait_for(lambda: stage.process.poll() == 0)
        time.sleep(1.5)  # longer than the first restart delay
        assert starts(tmp_path) == 1
    finally:
        stage.stop(timeout=5)
