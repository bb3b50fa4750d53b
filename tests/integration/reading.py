"""Reading whole topics back in integration tests."""

from __future__ import annotations

import asyncio

from elava.kafka.topic_read import read_to_end
from elava.settings import KafkaSettings


async def read_topic(kafka: str | KafkaSettings, topic: str, timeout: float = 120.0) -> list:
    """Every record of ``topic`` up to its end offsets at the time of the call (to the end
    offsets, not "until a quiet second": a slow fetch on a busy machine cannot cut it short).
    ``kafka``: the bootstrap servers of a plaintext broker, or the settings to connect with."""
    settings = KafkaSettings(bootstrap_servers=kafka) if isinstance(kafka, str) else kafka
    async with asyncio.timeout(timeout):
        return await read_to_end(settings, topic)


def compare_by_id(expected: dict, actual: dict, what: str) -> str:
    """A short account of how two maps of events by id differ ('' when equal): pytest's own
    diff of two 14,000-entry dicts takes minutes to render."""
    missing = sorted(expected.keys() - actual.keys())
    extra = sorted(actual.keys() - expected.keys())
    changed = sorted(k for k in expected.keys() & actual.keys() if expected[k] != actual[k])
    if not (missing or extra or changed):
        return ""
    lines = [f"{what}: {len(missing)} missing, {len(extra)} extra, {len(changed)} different "
             f"(of {len(expected)} expected)"]
    lines += [f"  missing {k}: {expected[k]!r:.400}" for k in missing[:3]]
    lines += [f"  extra {k}: {actual[k]!r:.400}" for k in extra[:3]]
    lines += [f"  different {k}:\n    expected {expected[k]!r:.600}\n    actual   {actual[k]!r:.600}"
              for k in changed[:3]]
    return "\n".join(lines)
