"""Play the demo's story (elava/demo/story.py) into a moto server, one act at a time.

The local Compose stack runs this once against its moto container, so that the
collectors there have a living account to watch: a security group, an instance and
a bucket appear; SSH is opened to the world; the owner tag goes; the instance is
terminated. The acts are ``--act-interval`` seconds apart, longer than the stack's
scan interval, so every act is seen by a scan of its own.

The server is reset first (``/moto-api/reset``): played again, the story starts over.

    python deploy/compose/play_story.py --endpoint-url http://moto:5000 --act-interval 90
"""

from __future__ import annotations

import argparse
import sys
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime

from elava.demo.simulated import SimulatedAccount
from elava.demo.story import STORY, World


class RemoteAccount(SimulatedAccount):
    """The demo's account, on a moto server that runs elsewhere (not started here)."""

    def __init__(self, endpoint_url: str) -> None:
        super().__init__()
        self._endpoint_url = endpoint_url.rstrip("/")

    @property
    def endpoint_url(self) -> str:
        return self._endpoint_url

    def start(self) -> RemoteAccount:
        return self

    def stop(self) -> None:
        return None


def wait_for_server(endpoint_url: str, timeout: float) -> None:
    """Until moto answers (Compose starts us once it is healthy; this covers a slow start)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{endpoint_url}/moto-api/", timeout=3):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def play(account: SimulatedAccount, act_interval: float, say: Callable[[str], None] = print,
         sleep: Callable[[float], None] = time.sleep) -> World:
    account.reset()
    world = World(account)
    for number, act in enumerate(STORY, start=1):
        if number > 1:
            sleep(act_interval)
        act.play(world)
        say(f"{datetime.now(UTC):%H:%M:%S} act {number}/{len(STORY)}: {act.title}")
    return world


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint-url", required=True, help="the moto server, e.g. http://moto:5000")
    parser.add_argument("--act-interval", type=float, default=90.0,
                        help="seconds between acts; longer than the scan interval (default 90)")
    parser.add_argument("--wait", type=float, default=60.0, help="seconds to wait for the server (default 60)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    account = RemoteAccount(args.endpoint_url)
    wait_for_server(account.endpoint_url, args.wait)
    world = play(account, args.act_interval, say=lambda line: print(line, flush=True))
    print(f"story played: security group {world.group_id}, instance {world.instance_id} (terminated), "
          f"bucket {world.bucket}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
