"""Pages parsed and hashed ahead of the worker's agent, in a child process (``worker.read_ahead``).

In a steady scan most resources of a page are what their heads hold, and what such a
resource costs the worker is mostly the page's JSON parse and its content hash, on the
agent's one busy thread while the machine has part of a core free (docs/benchmarks.md).
So each page is handed to a child as Faust takes it from the consumer, before it waits
in the agent's input buffer; the child parses it, hashes each resource's content and
writes each resource's JSON again (``streams.pages.prepare_page``), and the agent reads
only the resources whose hash differs from their head's.

What it must keep:
- the hashes are computed by the worker's own child from the same bytes the agent
  stores, never taken from a message (a page cannot say it is unchanged);
- anything the child cannot answer in time (not started yet, gone, slow, a page it will
  not read lazily) is read by the agent itself, as before: the child only saves work;
- the order of what is applied is the agent's, so crash recovery is as before.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import multiprocessing
import pickle
import queue
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any

from streams.pages import Prepared, prepare_page

log = logging.getLogger("elava.worker")

# The agent waits this long for a page's preparation before it reads the page itself.
PREPARED_WAIT_S = 5.0
# Pages prepared and not yet asked for (the input buffers hold 32 messages a partition; a
# page Faust drops at a rebalance is never asked for, and the oldest is forgotten).
KEPT = 256
# A child that ended is started again at most this often; meanwhile the agent reads pages itself.
RESTART_EVERY_S = 10.0

Key = tuple[str, int, int]  # topic, partition, offset


@dataclass
class _Entry:
    data: bytes
    answer: asyncio.Future


class PageReader:
    """Hands pages to the child (``submit``) and gives the agent what it made of them (``prepared``)."""

    def __init__(self) -> None:
        self._entries: collections.OrderedDict[Key, _Entry] = collections.OrderedDict()
        self._child: _Child | None = None
        self._started_at = float("-inf")
        self.read_ahead = 0  # pages the agent took prepared
        self.read_here = 0  # pages it was handed ahead and read itself (child gone, slow, or declined)

    def submit(self, key: Key, data: bytes) -> None:
        """A page Faust has just taken from the consumer: prepared ahead of the agent."""
        child = self._running_child()
        if child is None:
            return
        entry = _Entry(data, asyncio.get_running_loop().create_future())
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > KEPT:
            self._entries.popitem(last=False)
        child.send(entry)

    async def prepared(self, key: Key, data: bytes) -> Prepared | None:
        """What the child made of this page, or None: read it here (not handed ahead, or no answer in time)."""
        entry = self._entries.pop(key, None)
        if entry is None or entry.data is not data:  # not handed ahead, or other bytes at that offset
            return None
        try:
            answer = await asyncio.wait_for(asyncio.shield(entry.answer), PREPARED_WAIT_S)
        except TimeoutError:
            log.warning("page reader: no answer for %s[%d]@%d in %.0f s; read by the agent", *key, PREPARED_WAIT_S)
            answer = None
        if answer is None:
            self.read_here += 1
        else:
            self.read_ahead += 1
        return answer

    def close(self) -> None:
        if self._child is not None:
            self._child.close()
            self._child = None

    def _running_child(self) -> _Child | None:
        if self._child is not None and self._child.alive:
            return self._child
        if time.monotonic() - self._started_at < RESTART_EVERY_S:
            return None
        self._started_at = time.monotonic()
        if self._child is not None:
            log.warning("page reader: its child ended; starting it again")
            self._child.close()
        try:
            self._child = _Child(asyncio.get_running_loop())
            log.info("page reader: child %d parses and hashes pages ahead of the agent", self._child.pid)
        except OSError:
            log.exception("page reader: could not start its child; the agent reads pages itself")
            self._child = None
        return self._child


class _Child:
    """One child process and the two threads that talk to it: pages out, answers back in order."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        context = multiprocessing.get_context("spawn")  # no inherited threads or sockets
        ours, theirs = context.Pipe()
        self._process = context.Process(target=serve, args=(theirs,), name="elava-page-reader", daemon=True)
        self._process.start()
        self.pid = self._process.pid
        theirs.close()
        self._connection, self._loop = ours, loop
        self._outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._sent: collections.deque[_Entry] = collections.deque()  # answers come back in this order
        self.alive = True
        threading.Thread(target=self._write, name="page-reader-out", daemon=True).start()
        threading.Thread(target=self._read, name="page-reader-in", daemon=True).start()

    def send(self, entry: _Entry) -> None:
        self._sent.append(entry)
        self._outbox.put(entry.data)
        if not self.alive:  # ended meanwhile: its reader may have failed what was sent already
            self._fail_sent()

    def close(self) -> None:
        self.alive = False
        self._outbox.put(None)
        if self._process.is_alive():
            self._process.kill()

    def _write(self) -> None:
        try:
            while (data := self._outbox.get()) is not None:
                self._connection.send_bytes(data)
        except OSError:  # the child is gone: the reader thread sees it too
            pass

    def _read(self) -> None:
        try:
            while True:
                answer = pickle.loads(self._connection.recv_bytes())
                entry = self._sent.popleft()
                self._loop.call_soon_threadsafe(_settle, entry.answer, answer)
        except (EOFError, OSError, RuntimeError):  # the child ended (or the worker's loop closed)
            pass
        except Exception:  # noqa: BLE001 - a bug here must not stop the worker: it reads pages itself
            log.exception("page reader: its answers could not be read")
        self.alive = False
        try:
            self._loop.call_soon_threadsafe(self._fail_sent)
        except RuntimeError:  # the worker's loop is closed: nobody waits any more
            pass

    def _fail_sent(self) -> None:
        while self._sent:
            _settle(self._sent.popleft().answer, None)


def _settle(answer: asyncio.Future, value: Prepared | None) -> None:
    if not answer.done():
        answer.set_result(value)


def serve(connection: Any) -> None:
    """The child: each page in, what ``prepare_page`` made of it out, in order, until the worker goes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C stops the worker, which closes the pipe
    while True:
        try:
            data = connection.recv_bytes()
        except (EOFError, OSError):
            return
        try:
            prepared = prepare_page(data)
        except Exception:  # noqa: BLE001 - the agent reads the page itself and says what is wrong
            prepared = None
        connection.send_bytes(pickle.dumps(prepared, protocol=pickle.HIGHEST_PROTOCOL))
