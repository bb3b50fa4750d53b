"""`elava demo`: the story, scanned after each act, through one of the two drivers."""

from __future__ import annotations

import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import aioboto3

from collectors.aws.scanner import scan_account
from collectors.redact import Redactor
from elava.catalogue import registry
from elava.cli.common import console
from elava.cli.render import ocsf_lines, render_intro, render_step, render_summary, step_json
from elava.demo.drivers import EmbeddedDriver, KafkaDriver, StepResult
from elava.demo.simulated import ACCOUNT, CREDENTIALS, REGION, SimulatedAccount
from elava.demo.story import DEMO_TYPES, STORY, World

BUCKETS = 16
PAGE_SIZE = 500


@dataclass
class PlayedAct:
    title: str
    result: StepResult
    partial: bool


async def play_story(driver, account: SimulatedAccount, on_act=None) -> list[PlayedAct]:
    """Play every act, scan, and return what the driver produced after each one."""
    session = aioboto3.Session(region_name=REGION, **CREDENTIALS)
    types = [registry.get(name) for name in DEMO_TYPES]
    world = World(account)
    run = uuid.uuid4().hex[:8]
    redactor = Redactor.ephemeral()  # the demo's stores live as long as the demo
    played = []
    for number, act in enumerate(STORY, start=1):
        act.play(world)
        report = await scan_account(
            session, ACCOUNT, [REGION], types, driver.sink, buckets=BUCKETS, page_size=PAGE_SIZE,
            endpoint_url=account.endpoint_url, scan_id=f"demo-{run}-{number}", redactor=redactor)
        result = await driver.results()
        result.changes.sort(key=lambda c: (c.type, c.uid))
        result.drift.sort(key=lambda d: (d.type, d.uid))
        result.patterns.sort(key=lambda p: (p.type, p.uid, p.pattern))
        result.waste.sort(key=lambda w: (w.type, w.uid, w.pattern))
        played.append(PlayedAct(act.title, result, report.partial))
        if on_act is not None:
            on_act(number, played[-1])
    return played


async def run_demo(bootstrap_servers: str | None = None, output: str = "table") -> list[PlayedAct]:
    started = time.monotonic()

    def show(number: int, act: PlayedAct) -> None:
        if output == "json":
            console.print_json(data=step_json(number, act))
        elif output == "ocsf":
            for line in ocsf_lines(act.result.ocsf):
                print(line)
        else:
            render_step(console, number, act)

    with tempfile.TemporaryDirectory(prefix="elava-demo-") as tmp, SimulatedAccount() as account:
        driver = KafkaDriver(bootstrap_servers, Path(tmp)) if bootstrap_servers else EmbeddedDriver(Path(tmp) / "store")
        try:
            await driver.start()  # first: an unreachable broker is reported before the story begins
            if output == "table":
                render_intro(console, driver, account)
            account.reset()
            played = await play_story(driver, account, on_act=show)
        finally:
            await driver.stop()
        if output == "table":
            render_summary(console, played, time.monotonic() - started)
        return played
