"""Notifications: always a log line, and one message per configured channel.

Channels (each optional, ``executor`` settings): a JSON POST to ``notify_webhook``, a
Slack incoming webhook (``slack_webhook``), an SNS topic (``sns_topic_arn``). What is
notified: notices (notify mode), announcements of destructive actions, and actions
executed, cancelled or failed.

Each notification carries an idempotency key: the action id for a notice or an
announcement, ``<action id>:<status>`` for a result. The webhook gets it in an
``Idempotency-Key`` header and in the body; SNS in a message attribute (and as the
deduplication id of a FIFO topic); Slack in the text. After a crash between sending
and recording, a notification is sent again under the same key, so the receiver can
drop the repeat (Slack cannot: a person may see it twice, with the same key).

A notification counts as delivered when every channel accepted it: an announcement
that a channel refused is not an announcement, and the action is not scheduled.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

import aiohttp
import orjson
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import SecretStr

from collectors.aws.session import plain_session
from elava.settings import Settings
from streams.executor.exceptions import NotificationError

log = logging.getLogger("elava.executor.notify")
ATTEMPTS = 4


class Channel(Protocol):
    name: str

    async def deliver(self, notice: dict[str, Any]) -> None: ...

    async def close(self) -> None: ...


class _Http:
    """One aiohttp session, opened on first use."""

    def __init__(self, timeout: float) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        async with self._session.post(url, data=body, headers=headers) as answer:
            if answer.status >= 300:
                raise NotificationError(f"HTTP {answer.status}")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class Webhook:
    """The whole notice as JSON, the key in ``Idempotency-Key``."""

    name = "webhook"

    def __init__(self, url: SecretStr, timeout: float = 10.0) -> None:
        self._url = url.get_secret_value()
        self._http = _Http(timeout)

    async def deliver(self, notice: dict[str, Any]) -> None:
        headers = {"Content-Type": "application/json", "Idempotency-Key": notice["idempotency_key"]}
        await self._http.post(self._url, orjson.dumps(notice), headers)

    async def close(self) -> None:
        await self._http.close()


class Slack:
    """A Slack incoming webhook: the summary as text, the key at its end."""

    name = "slack"

    def __init__(self, url: SecretStr, timeout: float = 10.0) -> None:
        self._url = url.get_secret_value()
        self._http = _Http(timeout)

    async def deliver(self, notice: dict[str, Any]) -> None:
        text = f"*Elava {notice['kind']}*: {notice['summary']} (key {notice['idempotency_key']})"
        await self._http.post(self._url, orjson.dumps({"text": text}), {"Content-Type": "application/json"})

    async def close(self) -> None:
        await self._http.close()


class Sns:
    """An SNS topic: the notice as JSON, the key in a message attribute (and FIFO dedup id)."""

    name = "sns"

    def __init__(self, topic_arn: str, endpoint_url: str | None) -> None:
        self._topic_arn = topic_arn
        self._region = topic_arn.split(":")[3]
        self._endpoint_url = endpoint_url
        self._session = plain_session(region=self._region)

    async def deliver(self, notice: dict[str, Any]) -> None:
        request: dict[str, Any] = {
            "TopicArn": self._topic_arn, "Subject": f"Elava {notice['kind']}"[:100],
            "Message": orjson.dumps(notice).decode(),
            "MessageAttributes": {"idempotency_key": {"DataType": "String", "StringValue": notice["idempotency_key"]}}}
        if self._topic_arn.endswith(".fifo"):
            request |= {"MessageGroupId": notice["uid"][:128], "MessageDeduplicationId": _dedup_id(notice)}
        try:
            async with self._session.client("sns", region_name=self._region, endpoint_url=self._endpoint_url) as sns:
                await sns.publish(**request)
        except (ClientError, BotoCoreError) as exc:
            raise NotificationError(f"SNS: {exc}") from exc

    async def close(self) -> None:
        return None


def _dedup_id(notice: dict[str, Any]) -> str:
    # At most 128 characters of [A-Za-z0-9_-...]: the key is hex and a status.
    return notice["idempotency_key"].replace(":", "-")[:128]


class Notifier:
    def __init__(self, channels: list[Channel] | None = None, delay: float = 0.2) -> None:
        self.channels = list(channels or [])
        self._delay = delay

    async def close(self) -> None:
        for channel in self.channels:
            await channel.close()

    async def send(self, notice: dict[str, Any]) -> None:
        """Log the notice and deliver it to every channel; NotificationError if one never accepts it."""
        log.warning("NOTICE %s [%s] %s", notice["kind"], notice["idempotency_key"], notice["summary"])
        refused = [problem for problem in await asyncio.gather(*(self._deliver(c, notice) for c in self.channels))
                   if problem]
        if refused:
            # A URL may hold a token: it is never part of a message.
            raise NotificationError(f"the notification was not accepted: {'; '.join(refused)}")

    async def _deliver(self, channel: Channel, notice: dict[str, Any]) -> str | None:
        last_error = ""
        for attempt in range(ATTEMPTS):
            try:
                await channel.deliver(notice)
                return None
            except (TimeoutError, aiohttp.ClientError, NotificationError) as exc:
                last_error = f"{type(exc).__name__}: {exc}"
                await asyncio.sleep(self._delay * 2 ** attempt)
        return f"{channel.name} ({last_error})"


def notifier_for(settings: Settings) -> Notifier:
    executor = settings.executor
    channels: list[Channel] = []
    if executor.notify_webhook:
        channels.append(Webhook(executor.notify_webhook))
    if executor.slack_webhook:
        channels.append(Slack(executor.slack_webhook))
    if executor.sns_topic_arn:
        channels.append(Sns(executor.sns_topic_arn, settings.providers.aws.endpoint_url))
    return Notifier(channels)
