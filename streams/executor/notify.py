"""Notifications: always a log line, and a JSON POST to ``executor.notify_webhook`` if set.

Each POST carries the action id in an ``Idempotency-Key`` header (and in the body as
``action_id``): after a crash between sending and recording, a notice is sent again
under the same key, and the receiver can drop the repeat.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import orjson
from pydantic import SecretStr

from streams.executor.exceptions import NotificationError

log = logging.getLogger("elava.executor.notify")
ATTEMPTS = 4


class Notifier:
    def __init__(self, webhook: SecretStr | None, timeout: float = 10.0) -> None:
        self._url = webhook.get_secret_value() if webhook else None
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, notice: dict[str, Any]) -> None:
        """Log the notice and deliver it to the webhook; NotificationError if it never accepts it."""
        log.warning("NOTICE %s [%s] %s", notice["kind"], notice["action_id"], notice["summary"])
        if self._url is None:
            return
        last_error = ""
        for attempt in range(ATTEMPTS):
            try:
                await self._post(notice)
                return
            except (TimeoutError, aiohttp.ClientError, NotificationError) as exc:
                last_error = f"{type(exc).__name__}: {exc}"
                await asyncio.sleep(0.2 * 2 ** attempt)
        # The URL may hold a token: it is never part of a message.
        raise NotificationError(f"the notification webhook did not accept the notice ({last_error})")

    async def _post(self, notice: dict[str, Any]) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        headers = {"Content-Type": "application/json", "Idempotency-Key": notice["action_id"]}
        async with self._session.post(self._url, data=orjson.dumps(notice), headers=headers) as answer:
            if answer.status >= 300:
                raise NotificationError(f"HTTP {answer.status}")
