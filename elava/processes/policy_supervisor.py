"""`elava worker` runs its stages as supervised children: the policy stage (`elava policy
serve`), the drift stage (`elava drift-stage serve`) and the fleet-pattern stage (`elava fleet serve`).

One command still starts everything a small installation needs, while the worker never
waits for a policy: the stage is its own process and consumer group. The child is
started before the worker and must load its policies first (a policy that does not
load stops the worker's start-up, with the child's error on stderr); afterwards a
child that dies is started again (1 s, then doubling up to a minute while it keeps
dying young), and it is stopped with the worker. It shares the worker's process
group, so a signal to the group reaches both; a child whose worker was killed alone
notices and stops (streams/drivers/worker/policy_stage.py).
"""

from __future__ import annotations

import logging
import os
import select
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from elava.settings import Settings

log = logging.getLogger("elava.worker")
READY_TIMEOUT_S = 300.0  # loading compiles every policy; generous, but never forever
FIRST_DELAY_S, MAX_DELAY_S = 1.0, 60.0
HEALTHY_AFTER_S = 60.0  # a child that ran this long died of something new: restart at once


class StageStartError(RuntimeError):
    def __init__(self, code: int | None, label: str = "policy stage") -> None:
        super().__init__(f"the {label} did not start (exit status {code})")
        self.code = code


class PolicyStageSupervisor:
    def __init__(self, options: list[str], command: tuple[str, ...] = ("policy", "serve"),
                 label: str = "policy stage") -> None:
        self.argv = [sys.executable, "-m", "elava", *command, "--with-parent", *options]
        self.label = label
        self.process: subprocess.Popen | None = None
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    def start(self) -> None:
        """Start the child and wait until its policies are loaded; StageStartError if it exits first."""
        read, write = os.pipe()
        try:
            self.process = subprocess.Popen([*self.argv, "--ready-fd", str(write)], pass_fds=(write,))
        finally:
            os.close(write)
        try:
            ready = _read_ready(read, self.process)
        finally:
            os.close(read)
        if not ready:
            self._stop_child()
            raise StageStartError(self.process.returncode, self.label)
        self._watcher = threading.Thread(target=self._watch, name=f"{self.label}-supervisor", daemon=True)
        self._watcher.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stopping.set()
        self._stop_child(timeout)
        if self._watcher is not None:
            self._watcher.join(timeout=5)

    def _watch(self) -> None:
        delay = FIRST_DELAY_S
        while True:
            started = time.monotonic()
            code = self.process.wait()
            if self._stopping.is_set():
                return
            if code == 0:  # it was asked to stop (a signal it handled): that is not a crash
                log.warning("the %s stopped; it is not restarted", self.label)
                return
            delay = FIRST_DELAY_S if time.monotonic() - started > HEALTHY_AFTER_S else delay
            log.error("the %s exited with status %s; starting it again in %.0f s", self.label, code, delay)
            if self._stopping.wait(delay):
                return
            self.process = subprocess.Popen(self.argv)
            if self._stopping.is_set():  # stop() came while it was being started
                self._stop_child()
                return
            delay = min(delay * 2, MAX_DELAY_S)

    def _stop_child(self, timeout: float = 30.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def stage_for_worker(settings: Settings, config: Path | None, bootstrap_servers: str | None,
                     loglevel: str) -> PolicyStageSupervisor | None:
    """The started stage `elava worker` runs beside itself, or None if policies or the child are off.
    The child reads the same settings: the same file, environment and overrides."""
    policies = settings.policies
    return _started(policies.enabled and policies.stage_in_worker, _options(config, bootstrap_servers, loglevel))


def drift_stage_for_worker(settings: Settings, config: Path | None, bootstrap_servers: str | None,
                           loglevel: str) -> PolicyStageSupervisor | None:
    """The started drift stage (streams/drivers/worker/drift_stage.py), or None if drift or the child are off."""
    drift = settings.analyzer.drift
    return _started(drift.enabled and drift.stage_in_worker, _options(config, bootstrap_servers, loglevel),
                    ("drift-stage", "serve"), "drift stage")


def fleet_stage_for_worker(settings: Settings, config: Path | None, bootstrap_servers: str | None,
                           loglevel: str) -> PolicyStageSupervisor | None:
    """The started fleet-pattern stage (streams/drivers/worker/fleet_stage.py), or None if patterns or the child are off."""
    patterns = settings.analyzer.patterns
    return _started(patterns.enabled and patterns.fleet_stage_in_worker, _options(config, bootstrap_servers, loglevel),
                    ("fleet", "serve"), "fleet-pattern stage")


def _started(wanted: bool, options: list[str], *how: Any) -> PolicyStageSupervisor | None:
    if not wanted:
        return None
    supervisor = PolicyStageSupervisor(options, *how)
    supervisor.start()
    return supervisor


def yield_cpu_to_worker(settings: Settings) -> None:
    """In a stage started by its worker, first thing: run ``worker.stage_nice`` nicer than the
    worker, so that on a full host change capture gets the CPU first. Nice is per thread on
    Linux, so this comes before any thread (telemetry's) or child (the policy evaluator) starts."""
    if settings.worker.stage_nice:
        os.nice(settings.worker.stage_nice)


def _options(config: Path | None, bootstrap_servers: str | None, loglevel: str) -> list[str]:
    """The child reads the same settings: the same file, environment and overrides."""
    options = ["--loglevel", loglevel]
    options += ["--config", str(config)] if config else []
    options += ["--bootstrap-servers", bootstrap_servers] if bootstrap_servers else []
    return options


def _read_ready(fd: int, process: subprocess.Popen) -> bool:
    """True once the child wrote "ready"; False if it closed the pipe (exited) first."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    received = b""
    while time.monotonic() < deadline:
        readable, _, _ = select.select([fd], [], [], 1.0)
        if not readable:
            if process.poll() is not None:
                return False
            continue
        chunk = os.read(fd, 64)
        if not chunk:
            return False
        received += chunk
        if b"ready" in received:
            return True
    return False
