"""Health check of an Elava container (the image's HEALTHCHECK).

Healthy when the process the container runs can do its work:

- every command: one of ``kafka.bootstrap_servers`` accepts a TCP connection;
- ``elava worker`` with ``worker.web_port`` > 0: the query API answers HTTP (any
  status below 500: a 401 from an API that wants a token is an API that is up).

Settings are read the way the process read them (``ELAVA_CONFIG`` or ./elava.yaml,
then ``ELAVA_*`` variables). Exit status 0 healthy, 1 unhealthy (Docker's contract),
with one line saying what was checked or what failed.

    python deploy/healthcheck.py [--pid 1] [--timeout 3]
"""

from __future__ import annotations

import argparse
import socket
import sys
import urllib.error
import urllib.request
from pathlib import Path

# Addresses that mean "every interface": probe them on loopback.
ANY_ADDRESS = {"", "0.0.0.0", "::"}


def elava_command(cmdline: list[str]) -> list[str]:
    """The arguments after the ``elava`` program (``elava worker -c x`` -> ``[worker, -c, x]``)."""
    for index, arg in enumerate(cmdline):
        if Path(arg).name == "elava" or (arg == "-m" and cmdline[index + 1:index + 2] == ["elava"]):
            start = index + (2 if arg == "-m" else 1)
            return cmdline[start:]
    return []


def process_cmdline(pid: int) -> list[str]:
    raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def kafka_reachable(bootstrap_servers: str, timeout: float) -> str | None:
    """None when a bootstrap server accepts a connection, else why not."""
    failures = []
    for server in (s.strip() for s in bootstrap_servers.split(",") if s.strip()):
        host, _, port = server.rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
                return None
        except (OSError, ValueError) as exc:
            failures.append(f"{server}: {exc}")
    return "no Kafka bootstrap server reachable (" + "; ".join(failures) + ")"


def api_answers(host: str, port: int, timeout: float) -> str | None:
    """None when the worker's query API answers HTTP below 500, else why not."""
    address = "127.0.0.1" if host in ANY_ADDRESS else host
    url = f"http://{address}:{port}/openapi.json"
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            return None
    except urllib.error.HTTPError as exc:
        return None if exc.code < 500 else f"query API {url} answered {exc.code}"
    except (OSError, ValueError) as exc:
        return f"query API {url} does not answer: {exc}"


def check(command: list[str], timeout: float) -> str | None:
    """None when healthy, else the reason."""
    from elava.exceptions import SettingsError
    from elava.settings import load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        return f"settings: {exc}"
    problem = kafka_reachable(settings.kafka.bootstrap_servers, timeout)
    if problem is None and command[:1] == ["worker"] and settings.worker.web_port > 0:
        problem = api_answers(settings.worker.web_host, settings.worker.web_port, timeout)
    return problem


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pid", type=int, default=1, help="the process whose command is checked (default 1)")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds per connection attempt")
    args = parser.parse_args(argv)
    try:
        command = elava_command(process_cmdline(args.pid))
    except OSError as exc:
        print(f"unhealthy: cannot read the command of process {args.pid}: {exc}")
        return 1
    problem = check(command, args.timeout)
    if problem is not None:
        print(f"unhealthy: {problem}")
        return 1
    print(f"healthy: elava {' '.join(command[:1]) or '(no elava command)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
