"""OpenTelemetry for Elava: one trace per resource from the collector's scan through the worker
and the policy stage to the executor, and metrics of what each part does.

Each long-running part calls ``configure`` once at start-up with the ``telemetry`` settings.
Traces cross Kafka as W3C ``traceparent`` headers (``carrier``): every event's headers are
built by ``elava.events.binding_headers``, which adds ``trace_headers()``; a consumer opens
its span with ``consumed``, a child of the context the record carries.

Off (the default), neither the SDK nor the OTel API is loaded: ``span`` and ``consumed`` give a
shared do-nothing context manager, ``trace_headers`` an empty list, and every ``record_*``
returns at its first line (docs/benchmarks.md measures it).
"""

from __future__ import annotations

import atexit
import re
from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from elava.settings import TelemetrySettings

_OFF = nullcontext()
_tracer: Any = None  # an SDK tracer while traces are on
_instruments: Any = None  # elava.telemetry.instruments.Instruments while metrics are on
_current_headers: Any = None  # elava.telemetry.carrier.CurrentHeaders while traces are on
_providers: list[Any] = []
_closers: list[Any] = []


def configure(settings: TelemetrySettings, part: str, port_offset: int = 0) -> None:
    """Build this process's providers (replacing earlier ones). ``part`` names it (collector, worker,
    policies, executor); ``port_offset`` moves its Prometheus port (a child beside its parent)."""
    global _tracer, _instruments, _current_headers
    shutdown()
    if settings.traces == "none" and settings.metrics == "none":
        return
    from elava.telemetry import exporters

    resource = exporters.resource_for(settings, part)
    if settings.traces != "none":
        provider = exporters.tracer_provider(settings, resource)
        _providers.append(provider)
        _tracer = provider.get_tracer("elava")
        from elava.telemetry.carrier import CurrentHeaders

        _current_headers = CurrentHeaders()
    if settings.metrics != "none":
        from elava.telemetry.instruments import Instruments

        meters, close = exporters.meter_provider(settings, resource, port_offset)
        _providers.append(meters)
        _closers.append(close)
        _instruments = Instruments(meters.get_meter("elava"))


def shutdown() -> None:
    """Flush and stop what ``configure`` built; telemetry is off afterwards."""
    global _tracer, _instruments
    _tracer = _instruments = None
    while _providers:
        _providers.pop().shutdown()
    while _closers:
        _closers.pop()()


atexit.register(shutdown)


def tracing() -> bool:
    return _tracer is not None


def span(name: str, attributes: dict[str, Any] | None = None) -> AbstractContextManager:
    """A span, current while the block runs (a child of the current one, or a new trace)."""
    if _tracer is None:
        return _OFF
    return _tracer.start_as_current_span(name, attributes=attributes)


def consumed(name: str, record: Any, start_time: int | None = None) -> AbstractContextManager:
    """A consumer's span for one Kafka record (aiokafka's or Faust's: topic, partition, offset,
    headers): the child of the trace context its headers carry, a new trace when they carry none."""
    if _tracer is None:
        return _OFF
    from opentelemetry.trace import SpanKind

    from elava.telemetry.carrier import extract

    attributes = {"messaging.system": "kafka", "messaging.destination.name": record.topic,
                  "messaging.destination.partition.id": str(record.partition),
                  "messaging.kafka.offset": record.offset}
    return _tracer.start_as_current_span(name, context=extract(record.headers), kind=SpanKind.CONSUMER,
                                         attributes=attributes, start_time=start_time)


def annotate(attributes: dict[str, Any]) -> None:
    """Attributes on the current span (what is known only at its end: a status, a count)."""
    if _tracer is None:
        return
    from opentelemetry.trace import get_current_span

    get_current_span().set_attributes(attributes)


def trace_headers() -> list[tuple[str, bytes]]:
    """``traceparent`` (and ``tracestate``) of the current span, for a record about to be sent."""
    if _tracer is None:
        return []
    return _current_headers()


# Metrics: each returns at once while metrics are off.

def metering() -> bool:
    return _instruments is not None


def record_page(produced: Any, read: Any) -> None:
    """What the worker made of one input (``read``): resources observed, changes by kind, drift by severity."""
    if _instruments is None:
        return
    resources = getattr(read, "resources", None)
    if resources:
        _instruments.observations.add(len(resources), {"type": read.type})
    _instruments.count_each(_instruments.changes, ((c.kind, c.type) for c in produced.changes), ("kind", "type"))
    _instruments.count_each(_instruments.drift, ((d.severity,) for d in produced.drift), ("severity",))


def record_policy_events(events: Iterable[Any]) -> None:
    """Decisions by policy and decision, action requests by action (one policy stage batch)."""
    if _instruments is None:
        return
    events = list(events)
    _instruments.count_each(_instruments.decisions, ((e.policy, e.decision) for e in events if hasattr(e, "decision")),
                            ("policy", "decision"))
    _instruments.count_each(_instruments.actions, ((e.action,) for e in events if hasattr(e, "mode")), ("action",))


def record_result(action: str, status: str) -> None:
    if _instruments is not None:
        _instruments.results.add(1, {"action": action, "status": status})


def record_dead_letter(reason: str, by: str) -> None:
    if _instruments is not None:
        _instruments.dlq.add(1, {"reason": reason_class(reason), "by": by})


def record_aws(service: str, calls: int, throttles: int) -> None:
    if _instruments is None:
        return
    if calls:
        _instruments.aws_calls.add(calls, {"service": service})
    if throttles:
        _instruments.aws_throttles.add(throttles, {"service": service})


def record_scan(type_name: str, status: str, seconds: float) -> None:
    if _instruments is not None:
        _instruments.scan_duration.record(seconds, {"type": type_name, "status": status})


def record_lag(group: str, topic: str, partition: int, behind: int) -> None:
    if _instruments is not None:
        _instruments.lag[(group, topic, partition)] = max(0, behind)


def watch_store(sizes: Any) -> None:
    """``sizes()``: (partition, bytes, keys) of each store partition, read when metrics are collected."""
    if _instruments is not None:
        _instruments.store_sources.append(sizes)


# The DLQ reasons the code emits (SchemaError messages of elava/events.py, elava/parts.py,
# streams/inputs.py, streams/chunks.py, the worker's trail keys; the layout guard's refusal;
# the worker's processing errors), each as its label. Reasons carry event ids, keys and
# values, so only these labels reach a metric; anything else is "other". Matched at the start.
DLQ_REASON_CLASSES: tuple[tuple[str, re.Pattern[str]], ...] = tuple((label, re.compile(pattern)) for label, pattern in (
    ("not valid JSON", r"not valid JSON: "),
    ("expected a JSON object", r"expected a JSON object, "),
    ("unsupported schema_version", r"unsupported schema_version "),
    ("invalid event", r"invalid [A-Z]\w*: "),
    ("invalid ledger entry", r"invalid ledger entry: "),
    ("empty key", r"empty key: "),
    ("empty value", r"empty value$"),
    ("unknown or missing ce_type header", r"unknown or missing ce_type header: "),
    ("key does not match the shard in the body", r"key .* does not match the shard "),
    ("part without valid part headers", r"a part without valid part headers "),
    ("part index out of range", r"part index -?\d+ is outside "),
    ("part with a NUL byte", r"a part whose key or headers hold a NUL byte$"),
    ("missing parts", r"last part of .* arrived without parts "),
    ("parts joined into another event", r"parts of .* joined into "),
    ("shard layout mismatch", r"shard layout mismatch: "),
    ("processing error", r"processing error: "),
))


def reason_class(reason: str) -> str:
    """The label of a DLQ reason: one of DLQ_REASON_CLASSES or "other", never the reason's own
    text (a label with few values, as metrics need; the DLQ record keeps the whole reason)."""
    return next((label for label, pattern in DLQ_REASON_CLASSES if pattern.match(reason)), "other")
