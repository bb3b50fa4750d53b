"""``worker.read_ahead``: the worker's input topic hands each observation page (and nothing
else) to the page reader as Faust fetches it; off, the agent parses every page itself."""

from __future__ import annotations

from types import SimpleNamespace

from elava.settings import load_settings
from streams.drivers.worker.app import create_app, hand_on


class Submitted(list):
    def submit(self, key, data) -> None:
        self.append((key, data))


def message(topic: str, ce_type: bytes, value: bytes = b"{}", offset: int = 5):
    return SimpleNamespace(topic=topic, partition=2, offset=offset, value=value, headers=[("ce_type", ce_type)])


def test_only_observation_pages_are_handed_on():
    submitted = Submitted()
    for sent in (message("obs", b"elava.observation"), message("obs", b"elava.scan-marker", offset=6),
                 message("obs", b"elava.part", offset=7), message("trail", b"elava.observation", offset=8),
                 message("obs", b"elava.observation", value=b"", offset=9)):
        hand_on(submitted, sent, "obs")
    assert submitted == [(("obs", 2, 5), b"{}")]


def test_the_input_topic_hands_on_unless_read_ahead_is_off(tmp_path):
    on = create_app(load_settings(None, worker__web_port=0, worker__data_dir=str(tmp_path / "on")))
    off = create_app(load_settings(None, worker__web_port=0, worker__data_dir=str(tmp_path / "off"),
                                   worker__read_ahead=False))
    assert type(on.agents["observe"].channel).__name__ == "HandingOn"
    assert type(off.agents["observe"].channel) is off.conf.Topic
