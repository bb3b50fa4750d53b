"""W3C trace context in Kafka headers: the one adapter between OTel's propagator and a record's headers.

Kafka headers are a list of (str, bytes) pairs (aiokafka gives tuples, Faust may give a
mapping); the propagator reads and writes text. ``traceparent`` (and ``tracestate`` when
there is one) travel beside the CloudEvents headers, as the CloudEvents distributed
tracing extension names them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry.context import Context
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import get_current_span
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

Headers = list[tuple[str, bytes]]
PROPAGATOR = TraceContextTextMapPropagator()
FIELDS = frozenset(PROPAGATOR.fields)  # traceparent, tracestate


class _HeaderGetter(Getter[dict[str, str]]):
    def get(self, carrier: dict[str, str], key: str) -> list[str] | None:
        value = carrier.get(key)
        return None if value is None else [value]

    def keys(self, carrier: dict[str, str]) -> list[str]:
        return list(carrier)


_GETTER = _HeaderGetter()


def inject(context: Context | None = None) -> Headers:
    """The trace headers of ``context`` (default: the current one); none outside a span."""
    if context is None and not get_current_span().get_span_context().is_valid:
        return []
    text: dict[str, str] = {}
    PROPAGATOR.inject(text, context)
    return [(name, value.encode()) for name, value in text.items()]


class CurrentHeaders:
    """``inject()`` of the current span, made once per span: a worker span publishes many events,
    and the propagator's formatting cost more than the rest of their headers (measured)."""

    def __init__(self) -> None:
        self._span: object = None
        self._headers: Headers = []

    def __call__(self) -> Headers:
        span = get_current_span()
        if span is not self._span:
            self._span, self._headers = span, inject()
        return list(self._headers)


def extract(headers: Iterable[tuple[str, Any]] | Mapping[str, Any] | None) -> Context:
    """The trace context a record's headers carry (an empty context when they carry none or a bad one)."""
    items = headers.items() if isinstance(headers, Mapping) else (headers or ())
    text = {}
    for name, value in items:
        if name in FIELDS and value is not None:
            text[name] = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
    return PROPAGATOR.extract(text, getter=_GETTER)
