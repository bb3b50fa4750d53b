"""What the whole machine and the Kafka broker spend while a benchmark runs.

The worker, its policy stage and the broker share the machine's cores; a phase's
figures read beside the worker's own CPU say whether the worker waited or the machine
was full. Readings are cumulative CPU seconds, subtracted over a phase by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class CpuReading:
    busy_s: float  # every core's user, system and interrupt time, all processes
    steal_s: float  # time the hypervisor gave this machine's cores to someone else
    broker_s: float | None  # the broker's own process; None when none was found
    own_s: float  # the benchmark's own process (producing, watching offsets)

    def since(self, earlier: CpuReading, wall_s: float) -> dict:
        """Busy cores (and stolen ones) over ``wall_s`` seconds; the broker's and the benchmark's CPU seconds."""
        wall = max(wall_s, 1e-9)
        broker = (None if self.broker_s is None or earlier.broker_s is None
                  else round(self.broker_s - earlier.broker_s, 2))
        return {"machine_busy_cores": round((self.busy_s - earlier.busy_s) / wall, 2),
                "machine_steal_cores": round((self.steal_s - earlier.steal_s) / wall, 2),
                "broker_cpu_s": broker, "benchmark_cpu_s": round(self.own_s - earlier.own_s, 2)}


class MachineCpu:
    """Reads the machine's busy CPU and the broker's (the one JVM running ``kafka.Kafka``)."""

    def __init__(self) -> None:
        self.broker = _find_broker()
        self.own = psutil.Process()

    def read(self) -> CpuReading:
        times = psutil.cpu_times()
        busy = times.user + times.nice + times.system + getattr(times, "irq", 0.0) + getattr(times, "softirq", 0.0)
        own = self.own.cpu_times()
        return CpuReading(busy, getattr(times, "steal", 0.0), self._broker_cpu(), own.user + own.system)

    def _broker_cpu(self) -> float | None:
        if self.broker is None:
            return None
        try:
            times = self.broker.cpu_times()
        except psutil.Error:  # stopped under us: the phase has no broker figure
            return None
        return times.user + times.system


def _find_broker() -> psutil.Process | None:
    """The broker's process when exactly one runs on this machine (ours, or one given by --bootstrap)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info.get("cmdline") or []
        if "kafka.Kafka" in cmdline:
            found.append(process)
    return found[0] if len(found) == 1 else None
