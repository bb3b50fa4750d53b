"""The policy engine in a child process that is replaced every so many evaluations.

regopy 1.5.2 keeps about 1 KB per ``query_bundle`` call (8 KB per evaluation with the
shipped policies; measured: RSS grows linearly, ``malloc_trim`` and dropping the
interpreter give none of it back), and its native code has aborted the process on
some inputs. A long-running worker therefore does not load it: a child evaluates the
attributed changes of each input message in one round trip, and after
``recycle_after`` evaluations a fresh child takes over, taking the leak with it.
The embedded mode (one scan, then exit) uses the engine in-process.
"""

from __future__ import annotations

import logging
import multiprocessing
from typing import Any

from elava.events import AttributedChange, Event
from elava.settings import PolicySettings
from streams.policy.exceptions import PolicyError

log = logging.getLogger(__name__)
RECYCLE_AFTER = 20_000  # ~160 MB of regopy's leak at most, and a ~1 s restart per ~7 s of work


def _serve(connection: Any, settings: PolicySettings) -> None:
    """The child: load the engine once, then answer batches until the parent goes away."""
    from streams.policy.engine import PolicyEngine

    try:
        engine = PolicyEngine.load(settings)
    except Exception as exc:  # reported to the parent, which raises it where it is asked
        connection.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    connection.send(("ready", [(p.name, p.effective_mode) for p in engine.policies]))
    while True:
        try:
            batch = connection.recv()
        except (EOFError, OSError):
            return  # the parent closed the pipe or died
        try:
            connection.send(("ok", engine.evaluate_many(batch)))
        except Exception as exc:
            connection.send(("error", f"{type(exc).__name__}: {exc}"))


class IsolatedPolicies:
    def __init__(self, settings: PolicySettings, recycle_after: int = RECYCLE_AFTER) -> None:
        self.settings, self.recycle_after = settings, recycle_after
        self._context = multiprocessing.get_context("spawn")  # no inherited Faust threads or sockets
        self._process: Any = None
        self._connection: Any = None
        self._evaluated = 0
        self.policies = self._start()

    def evaluate(self, attributed: AttributedChange) -> list[Event]:
        return self.evaluate_many([attributed])

    def evaluate_many(self, batch: list[AttributedChange]) -> list[Event]:
        if not batch:
            return []
        if self._evaluated >= self.recycle_after:
            self._restart(f"recycled after {self._evaluated} evaluations")
        try:
            status, body = self._ask(batch)
        except (EOFError, OSError, BrokenPipeError) as exc:
            self._restart(f"the policy process died ({exc!r}); evaluating again in a new one")
            status, body = self._ask(batch)
        self._evaluated += len(batch)
        if status != "ok":
            raise PolicyError("policies", body)
        return body

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
        if self._process is not None:
            self._process.join(timeout=5)
            if self._process.is_alive():
                self._process.kill()

    def _ask(self, batch: list[AttributedChange]) -> tuple[str, Any]:
        self._connection.send(batch)
        return self._connection.recv()

    def _start(self) -> list[tuple[str, str]]:
        parent, child = self._context.Pipe()
        self._process = self._context.Process(target=_serve, args=(child, self.settings), daemon=True,
                                              name="elava-policies")
        self._process.start()
        child.close()
        self._connection, self._evaluated = parent, 0
        status, body = self._connection.recv()
        if status != "ready":
            raise PolicyError("policies", body)
        return body

    def _restart(self, why: str) -> None:
        log.info("policy process: %s", why)
        self.close()
        self.policies = self._start()
