"""The policy engine in a child process: replaced when it hangs, dies, or has leaked enough.

regopy 1.5.2 keeps about 1 KB per ``query_bundle`` call (8 KB per evaluation with the
shipped policies; measured: RSS grows linearly, ``malloc_trim`` and dropping the
interpreter give none of it back), its native code has aborted the process on some
inputs, and a policy can loop (``numbers.range(1, 30000000)``) in native code that no
thread can interrupt. So a child evaluates, and its parent keeps the clock:

- a batch of attributed changes goes to the child in one message, as the records' bytes
  where the caller has them (the stage: no parse nor pickle of models on its side; the
  child parses them, and says which are no attributed change), or as the version records
  the caller stored them from (a scan: the child rebuilds each change, on the core the
  scan leaves free);
- the child evaluates the batch together (one query for all, where the engine can) and
  the whole batch gets one ``evaluation_timeout``; past it, or if the child dies, a fresh
  child is asked the rest of the batch change by change, each answer within the timeout;
- a change that gets no answer in time then (or whose evaluation killed the child) is
  asked again of a fresh child, policy by policy under the same timeout: the policy that
  hangs or kills gets an error decision, the others their usual decisions, and the
  rest of the batch goes on;
- with regopy, after ``recycle_after`` evaluations a fresh child takes over, taking the
  leak with it (the Wasm engine does not leak: its heap is reset at every evaluation).
"""

from __future__ import annotations

import logging
import multiprocessing
from dataclasses import dataclass
from typing import Any

from elava.events import AttributedChange, Event
from elava.exceptions import SchemaError
from elava.heap import settle_heap
from elava.settings import PolicySettings
from streams.policy.exceptions import PolicyError, PolicyLoadError
from streams.policy.outcomes import error_decision
from streams.store.records import StoredRecord

log = logging.getLogger(__name__)
RECYCLE_AFTER = 20_000  # ~160 MB of regopy's leak at most, and a ~1 s restart per ~7 s of work
# A change; the bytes of a record that should hold one; or its new version's record (a scan's).
Item = AttributedChange | bytes | StoredRecord
Answer = list[Event] | SchemaError  # what a change yields, or why the bytes are no change


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
    settle_heap()  # what loading made lives as long as the child: the collector need not walk it again
    connection.send(("ready", ([(p.name, p.effective_mode) for p in engine.policies], engine.evaluator)))
    while True:
        try:
            request = connection.recv()
        except (EOFError, OSError):
            return  # the parent closed the pipe or died
        try:
            _handle(connection, engine, request)
        except (BrokenPipeError, OSError):
            return  # the parent went away before it read the answers


def _handle(connection: Any, engine: Any, request: tuple) -> None:
    if request[0] == "batch":  # one answer per change
        _, items, together = request
        if together:  # evaluated at once, so they leave as one message (a message each cost ~20 µs per side)
            connection.send(_answers_together(engine, items))
            return
        for item in items:  # each as soon as it is known: the parent's timeout is per change
            connection.send(_answer(engine.decide, item))
    else:  # ("each", change, first): the policies that apply, then one answer per policy
        _, attributed, first = request
        names = engine.applicable(attributed)[first:]
        connection.send(("plan", names))
        for name in names:
            connection.send(_answer(engine.decide_one, attributed, name))


def _answer(decide: Any, item: Item, *args: Any) -> tuple[str, Any]:
    try:
        return "ok", decide(_parsed(item), *args)
    except SchemaError as exc:
        return "invalid", str(exc)
    except Exception as exc:  # not a policy's fault (those are decisions): a bug, reported per change
        log.exception("policy evaluation failed")
        return "failed", f"{type(exc).__name__}: {exc}"


def _answers_together(engine: Any, items: list[Item]) -> list[tuple[str, Any]]:
    """One answer per item, the valid changes evaluated together."""
    answers: list[tuple[str, Any]] = []
    changes: list[AttributedChange] = []
    for item in items:
        try:
            changes.append(_parsed(item))
            answers.append(("ok", None))
        except SchemaError as exc:
            answers.append(("invalid", str(exc)))
    try:
        decided = iter(engine.decide_each(changes))
    except Exception as exc:  # a bug, not a policy's fault: reported for every change of the batch
        log.exception("policy evaluation failed")
        return [("failed", f"{type(exc).__name__}: {exc}") if status == "ok" else (status, body)
                for status, body in answers]
    return [("ok", next(decided)) if status == "ok" else (status, body) for status, body in answers]


def _parsed(item: Item) -> AttributedChange:
    if isinstance(item, AttributedChange):
        return item
    if isinstance(item, StoredRecord):
        return _rebuilt(item)
    return AttributedChange.from_bytes(item)


def _rebuilt(record: StoredRecord) -> AttributedChange:
    from streams.attribution.join import attributed_from_record  # the child's import, not the stage's

    try:
        attributed = attributed_from_record(record)
    except (ValueError, TypeError) as exc:  # pydantic's ValidationError is a ValueError
        raise SchemaError(f"version record of {record.uid}: {exc}") from exc
    if attributed is None:
        raise SchemaError(f"version record of {record.uid}: no attribution stored with it")
    return attributed


def isolated_policies_for(settings: PolicySettings) -> IsolatedPolicies | None:
    """The evaluator every driver runs (None when policies are off); close it when done."""
    return IsolatedPolicies(settings) if settings.enabled else None


@dataclass(frozen=True)
class Ahead:
    """A batch handed to the child by ``send_ahead``, as sent."""

    batch: list[AttributedChange]
    items: list[Item]


class _NoAnswer(Exception):
    """The child did not answer in time, or died while evaluating."""


class IsolatedPolicies:
    def __init__(self, settings: PolicySettings, recycle_after: int | None = None) -> None:
        """``recycle_after``: evaluations before a fresh child takes over (default: RECYCLE_AFTER
        with regopy, never with the Wasm engine)."""
        self.settings, self._recycle_after = settings, recycle_after
        self.timeout = settings.evaluation_timeout.total_seconds()
        self._context = multiprocessing.get_context("spawn")  # no inherited threads or sockets
        self._process: Any = None
        self._connection: Any = None
        self._evaluated = 0
        self.incidents = 0  # evaluations that hung or killed the child, since the start
        self.evaluator = "none"  # which engine the child runs (regopy, wasm), said when it is ready
        self.policies = self._start()

    def decide(self, attributed: AttributedChange) -> list[Event]:
        return self.decide_many([attributed])

    @property
    def recycle_after(self) -> float:
        if self._recycle_after is not None:
            return self._recycle_after
        return RECYCLE_AFTER if self.evaluator == "regopy" else float("inf")

    def decide_many(self, batch: list[AttributedChange]) -> list[Event]:
        """The decisions and action requests of every change, in order; never raises for a policy."""
        return self.collect(self.send_ahead(batch))

    def send_ahead(self, batch: list[AttributedChange], encoded: list[bytes | StoredRecord] | None = None) -> Ahead:
        """Hand ``batch`` to the child, which evaluates it while the caller goes on; ``collect``
        takes its decisions, before anything else is asked of this evaluator.

        The changes cross as their JSON (as the policy stage's records do): pickling a change
        costs twice its bytes on each side (docs/benchmarks.md, "Policy engines"). ``encoded``:
        each change's bytes, or the version record it is rebuilt from, in order, when the
        caller has them (``Produced.policy_items``).
        """
        items: list[Item] = [attributed.to_bytes() for attributed in batch] if encoded is None else list(encoded)
        self._recycle_if_due()
        self._send(("batch", items, True))
        return Ahead(batch, items)

    def collect(self, ahead: Ahead) -> list[Event]:
        """The decisions and action requests of a batch handed over by ``send_ahead``, in order."""
        outputs: list[Event] = []
        answers = self.decide_each(ahead.items, sent=True)
        for attributed, answer in zip(ahead.batch, answers, strict=True):
            if isinstance(answer, SchemaError):  # our own bytes: a contract bug, not a policy's doing
                raise SchemaError(f"{attributed.event_id}: {answer}")
            outputs.extend(answer)
        return outputs

    def decide_each(self, items: list[Item], sent: bool = False) -> list[Answer]:
        """What each item yields, in order: its decisions and action requests, or (bytes that
        hold no attributed change) the SchemaError saying why. Never raises for a policy.
        ``sent``: the items went to the child as one batch already (``send_ahead``)."""
        answers: list[Answer] = []
        together = True
        while len(answers) < len(items):
            if not sent:
                self._recycle_if_due()
            stopped = self._batch(items, answers, together, sent)
            sent = False
            if stopped and together:  # no answer for the batch in time: its changes one by one
                together = False
            elif stopped:  # the child was replaced: this change, policy by policy
                answers.append(self._each_of(items[len(answers)]))
        return answers

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
        if self._process is not None:
            self._process.join(timeout=5)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(timeout=5)

    def _recycle_if_due(self) -> None:
        if self._evaluated >= self.recycle_after:
            self._restart(f"recycled after {self._evaluated} evaluations")

    def _send(self, request: tuple) -> None:
        try:
            self._connection.send(request)
        except (OSError, BrokenPipeError) as exc:
            self._restart(f"the policy process is gone ({exc!r})")
            self._connection.send(request)

    def _batch(self, items: list[Item], answers: list[Answer], together: bool, sent: bool = False) -> bool:
        """Ask for the items not answered yet (unless ``sent``), adding to ``answers``; whether it
        stopped without an answer (the child was replaced)."""
        if not sent:
            self._send(("batch", items[len(answers):], together))
        try:
            if together:  # the batch's answers, in one message
                answers.extend(self._result(item, "policies", answer)
                               for item, answer in zip(items[len(answers):], self._receive(), strict=True))
            else:  # one message per change, each within the timeout
                while len(answers) < len(items):
                    answers.append(self._result(items[len(answers)], "policies", self._receive()))
        except _NoAnswer as lost:
            what = "a batch" if together else f"item {len(answers)} of a batch"
            self._restart(f"{lost} on {what}; asking " + ("change by change" if together else "each policy alone"))
            return True
        return False

    def _each_of(self, item: Item) -> Answer:
        try:
            attributed = _parsed(item)
        except SchemaError as exc:  # (the child would have said so, had it lived)
            return exc
        return self._each(attributed)

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

    def _result(self, item: Item, policy: str, answer: tuple[str, Any]) -> Answer:
        status, body = answer
        self._evaluated += 1
        if status == "ok":
            return body
        if status == "invalid":
            return SchemaError(body)
        return [error_decision(_parsed(item), policy, f"evaluation failed: {body}")]

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
        policies, self.evaluator = body
        return policies

    def _restart(self, why: str) -> None:
        log.info("policy process: %s", why)
        if self._process is not None and self._process.is_alive():
            self._process.kill()  # it may be stuck in native code: no goodbye
        self.close()
        self.policies = self._start()
