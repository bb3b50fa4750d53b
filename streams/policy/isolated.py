"""The policy engine in a child process: replaced when it hangs, dies, or has leaked enough.

regopy 1.5.2 keeps about 1 KB per ``query_bundle`` call (8 KB per evaluation with the
shipped policies; measured: RSS grows linearly, ``malloc_trim`` and dropping the
interpreter give none of it back), its native code has aborted the process on some
inputs, and a policy can loop (``numbers.range(1, 30000000)``) in native code that no
thread can interrupt. So a child evaluates, and its parent keeps the clock:

- a batch of attributed changes goes to the child in one message; the child answers
  change by change, and each answer must come within ``evaluation_timeout``;
- a change that gets no answer in time (or whose evaluation killed the child) is asked
  again of a fresh child, policy by policy under the same timeout: the policy that
  hangs or kills gets an error decision, the others their usual decisions, and the
  rest of the batch goes on;
- after ``recycle_after`` evaluations a fresh child takes over, taking the leak with it.
"""

from __future__ import annotations

import logging
import multiprocessing
from typing import Any

from elava.events import AttributedChange, Event
from elava.settings import PolicySettings
from streams.policy.exceptions import PolicyError, PolicyLoadError
from streams.policy.outcomes import error_decision

log = logging.getLogger(__name__)
RECYCLE_AFTER = 20_000  # ~160 MB of regopy's leak at most, and a ~1 s restart per ~7 s of work


def _serve(connection: Any, settings: PolicySettings) -> None:
    """The child: load the engine once, then answer requests until the parent goes away."""
    from streams.policy.engine import PolicyEngine

    try:
        engine = PolicyEngine.load(settings)
    except PolicyError as exc:  # reported to the parent, which raises it where it is asked
        connection.send(("error", (str(exc.path), exc.problem)))
        return
    except Exception as exc:
        connection.send(("error", ("policies", f"{type(exc).__name__}: {exc}")))
        return
    connection.send(("ready", [(p.name, p.effective_mode) for p in engine.policies]))
    while True:
        try:
            request = connection.recv()
        except (EOFError, OSError):
            return  # the parent closed the pipe or died
        if request[0] == "batch":  # one answer per change
            for attributed in request[1]:
                connection.send(_answer(engine.decide, attributed))
        else:  # ("each", change, first): the policies that apply, then one answer per policy
            _, attributed, first = request
            names = engine.applicable(attributed)[first:]
            connection.send(("plan", names))
            for name in names:
                connection.send(_answer(engine.decide_one, attributed, name))


def _answer(decide: Any, *args: Any) -> tuple[str, Any]:
    try:
        return "ok", decide(*args)
    except Exception as exc:  # not a policy's fault (those are decisions): a bug, reported per change
        log.exception("policy evaluation failed")
        return "failed", f"{type(exc).__name__}: {exc}"


def isolated_policies_for(settings: PolicySettings) -> IsolatedPolicies | None:
    """The evaluator every driver runs (None when policies are off); close it when done."""
    return IsolatedPolicies(settings) if settings.enabled else None


class _NoAnswer(Exception):
    """The child did not answer in time, or died while evaluating."""


class IsolatedPolicies:
    def __init__(self, settings: PolicySettings, recycle_after: int = RECYCLE_AFTER) -> None:
        self.settings, self.recycle_after = settings, recycle_after
        self.timeout = settings.evaluation_timeout.total_seconds()
        self._context = multiprocessing.get_context("spawn")  # no inherited threads or sockets
        self._process: Any = None
        self._connection: Any = None
        self._evaluated = 0
        self.incidents = 0  # evaluations that hung or killed the child, since the start
        self.policies = self._start()

    def decide(self, attributed: AttributedChange) -> list[Event]:
        return self.decide_many([attributed])

    def decide_many(self, batch: list[AttributedChange]) -> list[Event]:
        """The decisions and action requests of every change, in order; never raises for a policy."""
        outputs: list[Event] = []
        done = 0
        while done < len(batch):
            if self._evaluated >= self.recycle_after:
                self._restart(f"recycled after {self._evaluated} evaluations")
            done, stopped = self._batch(batch, done, outputs)
            if stopped:  # the child was replaced: this change, policy by policy
                outputs += self._each(batch[done])
                done += 1
        return outputs

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
        if self._process is not None:
            self._process.join(timeout=5)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(timeout=5)

    def _batch(self, batch: list[AttributedChange], start: int, outputs: list[Event]) -> tuple[int, bool]:
        """Ask for ``batch[start:]``; (index reached, whether it stopped there without an answer)."""
        try:
            self._connection.send(("batch", batch[start:]))
        except (OSError, BrokenPipeError) as exc:
            self._restart(f"the policy process is gone ({exc!r})")
            self._connection.send(("batch", batch[start:]))
        for index in range(start, len(batch)):
            try:
                outputs += self._result(batch[index], "policies", self._receive())
            except _NoAnswer as lost:
                self._restart(f"{lost} on {batch[index].change.uid}; asking each policy alone")
                return index, True
        return len(batch), False

    def _each(self, attributed: AttributedChange) -> list[Event]:
        """Each applicable policy alone; one that hangs or kills the child gets an error decision."""
        outputs: list[Event] = []
        first = 0
        while True:
            self._connection.send(("each", attributed, first))
            names = self._receive()[1]
            for offset, name in enumerate(names):
                try:
                    outputs += self._result(attributed, name, self._receive())
                except _NoAnswer as lost:
                    self.incidents += 1
                    log.warning("policy %s on %s: %s", name, attributed.change.uid, lost)
                    outputs.append(error_decision(attributed, name, f"{lost}; the evaluating process was replaced"))
                    self._restart(f"policy {name} {lost}")
                    first += offset + 1
                    break
            else:
                return outputs

    def _result(self, attributed: AttributedChange, policy: str, answer: tuple[str, Any]) -> list[Event]:
        status, body = answer
        self._evaluated += 1
        if status == "ok":
            return body
        return [error_decision(attributed, policy, f"evaluation failed: {body}")]

    def _receive(self) -> tuple[str, Any]:
        try:
            if not self._connection.poll(self.timeout):
                raise _NoAnswer(f"evaluation ran past {self.timeout:g}s (policies.evaluation_timeout)")
            return self._connection.recv()
        except (EOFError, OSError) as exc:
            raise _NoAnswer("the evaluating process died") from exc

    def _start(self) -> list[tuple[str, str]]:
        parent, child = self._context.Pipe()
        self._process = self._context.Process(target=_serve, args=(child, self.settings), daemon=True,
                                              name="elava-policies")
        self._process.start()
        child.close()
        self._connection, self._evaluated = parent, 0
        try:
            status, body = self._connection.recv()
        except EOFError:
            self._process.join(timeout=5)
            status, body = "error", ("policies", f"the policy process exited ({self._process.exitcode}) while loading")
        if status != "ready":
            raise PolicyLoadError(*body)
        return body

    def _restart(self, why: str) -> None:
        log.info("policy process: %s", why)
        if self._process is not None and self._process.is_alive():
            self._process.kill()  # it may be stuck in native code: no goodbye
        self.close()
        self.policies = self._start()
