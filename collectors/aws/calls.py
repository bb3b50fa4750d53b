"""Every AWS request of a scan goes through here: bounded, retried, counted.

- One client and one semaphore per (service, region): concurrency is bounded where
  AWS applies its rate limits; one token bucket per region of the account bounds the
  rate of calls there (``providers.aws.calls_per_second``), across services and types.
- botocore retries in ``adaptive`` mode (10 attempts, client-side rate limiting);
  on top of that our own jittered backoff retries throttling errors that still get
  through, including those raised before a request is sent (botocore's retry loop
  only sees HTTP answers).
- Paged listings keep their place: a throttled page is retried in place, with the
  same pagination token, instead of restarting the listing.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, aclosing
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aioboto3
from aiobotocore.config import AioConfig

from collectors.aws.errors import is_throttling

BOTOCORE_RETRIES = {"mode": "adaptive", "max_attempts": 10}
_EPSILON = 1e-9


@dataclass(frozen=True)
class Backoff:
    """Our retries around botocore's: full-jitter exponential backoff on throttling."""

    attempts: int = 4
    base_seconds: float = 1.0
    cap_seconds: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.base_seconds < 0 or self.cap_seconds < 0:
            raise ValueError(f"invalid backoff {self!r}: attempts >= 1, delays >= 0")

    def delay(self, retry: int, rng: random.Random) -> float:
        return rng.uniform(0, min(self.cap_seconds, self.base_seconds * 2**retry))


DEFAULT_BACKOFF = Backoff()


def client_config(max_concurrency: int, endpoint_url: str | None = None) -> AioConfig:
    options: dict[str, Any] = {
        "retries": dict(BOTOCORE_RETRIES),
        "max_pool_connections": max(10, max_concurrency),
    }
    if endpoint_url:
        # Local stand-ins (moto, LocalStack) serve buckets by path, not by host name.
        options["s3"] = {"addressing_style": "path"}
    return AioConfig(**options)


def _drop_account_host_prefix(request: Any, **_: Any) -> None:
    """S3 Control puts the account in the host name (``<account>.s3-control...``): a local
    stand-in's address (127.0.0.1) does not resolve that way, and serves it by path anyway."""
    parts = urlsplit(request.url)
    account, dot, rest = parts.netloc.partition(".")
    if dot and account.isdigit():
        request.url = urlunsplit(parts._replace(netloc=rest))


def for_local_endpoint(service: str, client: Any) -> Any:
    """Adapt a client to a local stand-in (moto, LocalStack) where its service needs it."""
    if service == "s3control":
        client.meta.events.register("before-sign.s3-control", _drop_account_host_prefix)
    return client


class TokenBucket:
    """At most ``rate`` calls a second on average, in bursts of up to one second's worth.

    Callers wait their turn in order (the lock is held while one waits for a token).
    ``clock`` and ``sleep`` are injectable so that tests run on virtual time.
    """

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = max(1.0, rate)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.capacity
        self._stamp = clock()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = self._clock()
                self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= 1 - _EPSILON:  # a float sum may fall a hair short of 1
                    self._tokens = max(0.0, self._tokens - 1)
                    return
                await self._sleep((1 - self._tokens) / self.rate)


@dataclass(frozen=True)
class BoundClient:
    """A client, the semaphore that bounds calls to its (service, region), and the rate
    limit of its region in this account (None: unlimited)."""

    client: Any
    semaphore: asyncio.Semaphore
    region: str
    limiter: TokenBucket | None = None


class ClientPool:
    """Opens one client per (service, region) on first use; closes them all at the end."""

    def __init__(self, session: aioboto3.Session, stack: AsyncExitStack, *,
                 max_concurrency: int, endpoint_url: str | None, calls_per_second: float = 0) -> None:
        self._session = session
        self._stack = stack
        self._max_concurrency = max_concurrency
        self._endpoint_url = endpoint_url
        self._config = client_config(max_concurrency, endpoint_url)
        self._clients: dict[tuple[str, str], BoundClient] = {}
        self._calls_per_second = calls_per_second
        self._limiters: dict[str, TokenBucket] = {}
        self._lock = asyncio.Lock()

    def _limiter(self, region: str) -> TokenBucket | None:
        if self._calls_per_second <= 0:
            return None
        return self._limiters.setdefault(region, TokenBucket(self._calls_per_second))

    async def get(self, service: str, region: str) -> BoundClient:
        key = (service, region)
        if key not in self._clients:
            async with self._lock:  # two tasks must not open the same client twice
                if key not in self._clients:
                    client = await self._stack.enter_async_context(self._session.client(
                        service, region_name=region, endpoint_url=self._endpoint_url, config=self._config))
                    if self._endpoint_url:
                        for_local_endpoint(service, client)
                    self._clients[key] = BoundClient(client, asyncio.Semaphore(self._max_concurrency), region,
                                                     self._limiter(region))
        return self._clients[key]


class AwsCaller:
    """Makes the calls of one type scan and counts them (every attempt is a call)."""

    def __init__(self, backoff: Backoff, rng: random.Random) -> None:
        self.backoff = backoff
        self.calls = 0
        self.throttles = 0  # attempts AWS refused as throttled (after botocore's own retries)
        self._rng = rng

    async def _attempt(self, bound: BoundClient, request: Callable[[], Awaitable[dict]]) -> dict:
        for retry in range(self.backoff.attempts):
            self.calls += 1
            try:
                async with bound.semaphore:
                    if bound.limiter is not None:
                        await bound.limiter.acquire()
                    return await request()
            except Exception as exc:
                if not is_throttling(exc):
                    raise
                self.throttles += 1
                if retry + 1 >= self.backoff.attempts:
                    raise
            # Sleep outside the semaphore: a throttled call must not block the others.
            await asyncio.sleep(self.backoff.delay(retry, self._rng))
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def call(self, bound: BoundClient, operation: str, params: dict[str, Any]) -> dict:
        method = getattr(bound.client, operation)
        return await self._attempt(bound, lambda: method(**params))

    async def pages(self, bound: BoundClient, operation: str, params: dict[str, Any]) -> AsyncIterator[dict]:
        """Each page of a listing (one answer when the operation does not paginate)."""
        if not bound.client.can_paginate(operation):
            yield await self.call(bound, operation, params)
            return
        iterator = bound.client.get_paginator(operation).paginate(**params)
        # aiobotocore's page iterator asks for each page through `_make_request`;
        # wrapping it retries a throttled page in place, keeping the token.
        fetch_page = iterator._make_request
        iterator._make_request = lambda kwargs: self._attempt(bound, lambda: fetch_page(kwargs))
        async with aclosing(aiter(iterator)) as page_stream:
            async for page in page_stream:
                yield page
