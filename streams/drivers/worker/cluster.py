"""Any worker answers for the whole group: it asks each worker for the partitions that
worker holds, answers for its own in-process, and merges (streams/store/merge.py).

Who holds what comes from Faust's partition assignor, through its public router
(``app.router.table_metadata``: each worker's ``canonical_url`` and the table partitions
it holds as active, from the last rebalance) and ``app.assignor.assigned_actives()``.
A worker asked for partitions names them in the ``Elava-Partitions`` header; it answers
only if it holds every one of them as active and has recovered them (not during a
rebalance), so a partition is never answered from a standby copy or by two workers.
The answers must cover every partition exactly once, or the group answers 503 (after
waiting a few seconds for a rebalance to settle): never a silently partial answer.

Fan-out, not routing to the owner of a uid: measured in docs/api.md.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import orjson

from elava.events import utcnow
from elava.settings import Settings
from elava.timeparse import parse_time
from streams.store.api import ACCEPTED, TIMES, BadRequest, Found, related_request
from streams.store.merge import coverage_problem, incomplete, merge
from streams.store.relation_walk import Looked, Lookup, merge_looked, related_over

log = logging.getLogger("elava.worker")
PARTITIONS_HEADER = "Elava-Partitions"
RELATED = "/v1/related"
LOOKUP = "/v1/lookup"  # between workers only: a relation walk's lookups (POST, partitions header)
# How long a query waits for the group to settle (a rebalance, a worker that stopped
# answering and has not yet been replaced) before it answers 503.
SETTLE_SECONDS = 10.0
RETRY_SECONDS = 0.25
ASK_TIMEOUT = aiohttp.ClientTimeout(total=30)
# Faust's table changelog topics and the input topics are co-partitioned: partition p of
# one is partition p of the other, and the table's is what the assignor reports.


class GroupView:
    """What Faust's assignor says of the table: which worker holds which partition."""

    def __init__(self, app: Any, table: Any) -> None:
        self.app, self.table = app, table

    @property
    def this(self) -> str:
        return str(self.app.conf.canonical_url)

    @property
    def topic(self) -> str:
        return self.table.changelog_topic.get_topic_name()

    def owners(self) -> dict[str, frozenset[int]]:
        """Each worker's URL and the partitions it holds as active."""
        found = self.app.router.table_metadata(self.table.name)
        return {url: frozenset(topics.get(self.topic, ())) for url, topics in found.items()}

    def mine(self) -> frozenset[int]:
        return frozenset(tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic == self.topic)

    def settled(self) -> bool:
        """Not rebalancing (Faust clears the flag once the active partitions are recovered)."""
        return not self.app.rebalancing


class Refusal(Exception):
    """This worker will not answer for the partitions asked (not all its own, or not yet)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def pinned(path: str, params: Mapping[str, str]) -> dict[str, str]:
    """Times fixed once for the whole group: ``2h`` and "now" mean the same moment in every
    worker. A time that does not parse is left for the workers to refuse (400)."""
    now, fixed = utcnow(), dict(params)
    for name in TIMES & ACCEPTED.get(path, frozenset()):
        text = fixed.get(name)
        if text is None and name in ("at", "until"):
            fixed[name] = now.isoformat()
            continue
        if text is not None:
            try:
                fixed[name] = parse_time(text, now=now).isoformat()
            except ValueError:
                pass
    return fixed


class Coordinator:
    """Asks the group and merges; ``local`` answers for partitions of this worker, and
    ``look`` answers a relation walk's lookups for them."""

    def __init__(self, view: GroupView, local: Callable[[str, Mapping[str, str], frozenset[int]], Found],
                 look: Callable[[Lookup, frozenset[int]], Looked], settings: Settings,
                 session: Callable[[], aiohttp.ClientSession]) -> None:
        self.view, self.local, self.look, self.session = view, local, look, session
        self.partitions, self.token = settings.kafka.partitions, settings.worker.api_token
        self.analyzer = settings.analyzer

    def _own(self, asked: frozenset[int]) -> None:
        """Refusal unless this worker holds every partition of ``asked``, recovered."""
        if not self.view.settled():
            raise Refusal(503, "rebalancing")
        missing = asked - self.view.mine()
        if missing:
            raise Refusal(409, f"{self.view.this} does not hold partition(s) {', '.join(map(str, sorted(missing)))}")

    def answer_part(self, path: str, params: Mapping[str, str], asked: frozenset[int]) -> Found:
        """This worker's answer for ``asked``, if it holds them all (Refusal otherwise)."""
        self._own(asked)
        return self.local(path, params, asked)

    def lookup_part(self, lookup: Lookup, asked: frozenset[int]) -> Looked:
        self._own(asked)
        return self.look(lookup, asked)

    async def answer(self, path: str, params: Mapping[str, str]) -> tuple[int, Any]:
        """The group's answer; 503 if the group cannot give a complete one in time."""
        params = pinned(path, params)
        if path == RELATED:
            return await self._related(params)
        problem, answers = await self._complete(lambda url, held: self._ask(url, held, path, params))
        if problem is not None:
            return incomplete(problem)
        return merge(path, params, answers, self.analyzer)

    async def _related(self, params: Mapping[str, str]) -> tuple[int, Any]:
        """The relation walk, each step's lookups asked of the whole group."""
        try:
            ref, t, depth = related_request(params)
        except BadRequest as exc:
            return 400, {"error": str(exc)}
        return await related_over(ref, t, depth, self._looked)

    async def _looked(self, lookup: Lookup) -> Looked | str:
        problem, answers = await self._complete(lambda url, held: self._ask_lookup(url, held, lookup))
        return problem if problem is not None else merge_looked(Looked.from_json(a.body) for a in answers)

    async def _complete(self, ask: Callable[[str, frozenset[int]], Awaitable[Found | str]]) -> tuple[str | None, list[Found]]:
        """Every partition's answer, once each (after waiting for the group to settle), or the problem."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_SECONDS
        while True:
            problem, answers = await self._gather(ask)
            if problem is None or loop.time() >= deadline:
                return problem, answers
            await asyncio.sleep(RETRY_SECONDS)

    async def _gather(self, ask: Callable[[str, frozenset[int]], Awaitable[Found | str]]) -> tuple[str | None, list[Found]]:
        if not self.view.settled():
            return "rebalancing", []
        owners = {url: held for url, held in self.view.owners().items() if held}
        problem = coverage_problem(list(owners.values()), self.partitions)
        if problem is not None:
            return problem, []
        asked = await asyncio.gather(*(ask(url, held) for url, held in owners.items()))
        refusals = [found for found in asked if isinstance(found, str)]
        return (refusals[0], []) if refusals else (None, [f for f in asked if isinstance(f, Found)])

    async def _ask(self, url: str, held: frozenset[int], path: str, params: Mapping[str, str]) -> Found | str:
        if url == self.view.this:
            return self._mine(lambda: self.answer_part(path, params, held))
        return await self._request(url, held, "GET", path, params=params)

    async def _ask_lookup(self, url: str, held: frozenset[int], lookup: Lookup) -> Found | str:
        if url == self.view.this:
            return self._mine(lambda: Found(200, self.lookup_part(lookup, held).to_json()))
        return await self._request(url, held, "POST", LOOKUP, json=lookup.to_json())

    @staticmethod
    def _mine(answer: Callable[[], Found]) -> Found | str:
        try:
            return answer()
        except Refusal as refusal:
            return refusal.reason

    async def _request(self, url: str, held: frozenset[int], method: str, path: str, **kwargs: Any) -> Found | str:
        """Another worker's envelope for ``held`` (or why there is none)."""
        headers = {PARTITIONS_HEADER: ",".join(map(str, sorted(held)))}
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token.get_secret_value()}"
        try:
            async with self.session().request(method, url.rstrip("/") + path, headers=headers,
                                              timeout=ASK_TIMEOUT, **kwargs) as response:
                raw = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            return f"{url} did not answer: {type(exc).__name__}: {exc}"
        if response.status != 200:
            return f"{url} answered {response.status}: {raw[:200].decode(errors='replace')}"
        return _found(orjson.loads(raw), held, url)


def _found(envelope: dict[str, Any], held: frozenset[int], url: str) -> Found | str:
    if frozenset(envelope.get("partitions") or ()) != held:
        return f"{url} answered for other partitions than asked"
    return Found(envelope["status"], envelope["body"], tuple(envelope.get("uids") or ()))


def envelope(found: Found, partitions: frozenset[int]) -> dict[str, Any]:
    """What a worker sends back for the partitions it was asked about."""
    return {"partitions": sorted(partitions), "status": found.status, "body": found.body, "uids": list(found.uids)}


def asked_partitions(header: str, partitions: int) -> frozenset[int]:
    """The ``Elava-Partitions`` header: comma-separated partition numbers (ValueError if not)."""
    wanted = f"{PARTITIONS_HEADER}: partition numbers from 0 to {partitions - 1}, comma-separated"
    try:
        asked = frozenset(int(part) for part in header.split(",") if part.strip())
    except ValueError:
        raise ValueError(wanted) from None
    if not asked or not all(0 <= p < partitions for p in asked):
        raise ValueError(wanted)
    return asked
