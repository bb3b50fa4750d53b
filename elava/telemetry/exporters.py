"""The OpenTelemetry SDK's providers, built from the telemetry settings (only when a part is on).

Providers are Elava's own, not OTel's global ones: a process (or a test) can configure,
shut down and configure again, and nothing Elava does depends on another library having
set the globals.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from elava.settings import TelemetrySettings

Closer = Callable[[], None]


def resource_for(settings: TelemetrySettings, part: str) -> Resource:
    return Resource.create({"service.name": f"{settings.service_name}-{part}", "service.namespace": "elava",
                            "elava.part": part})


def tracer_provider(settings: TelemetrySettings, resource: Resource) -> TracerProvider:
    provider = TracerProvider(resource=resource, sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio)),
                              shutdown_on_exit=False)  # shut down by elava.telemetry.shutdown (atexit)
    if settings.traces == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=_otlp_url(settings, "traces"), headers=_otlp_headers(settings))
        provider.add_span_processor(BatchSpanProcessor(exporter))
    elif settings.traces == "console":
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    else:  # file; a span is written when it ends, so a reader sees it without waiting for a batch
        provider.add_span_processor(SimpleSpanProcessor(JsonLinesSpanExporter(settings.file_path)))
    return provider


def meter_provider(settings: TelemetrySettings, resource: Resource, port_offset: int) -> tuple[MeterProvider, Closer]:
    """The meter provider, and what closes its endpoint (the Prometheus server) after shutdown."""
    close: Closer = _nothing
    readers: list[MetricReader] = []
    interval_ms = settings.export_interval.total_seconds() * 1000
    if settings.metrics == "prometheus":
        reader, close = _prometheus(settings.prometheus_host, settings.prometheus_port + port_offset)
        readers.append(reader)
    elif settings.metrics == "otlp":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        exporter = OTLPMetricExporter(endpoint=_otlp_url(settings, "metrics"), headers=_otlp_headers(settings))
        readers.append(PeriodicExportingMetricReader(exporter, export_interval_millis=interval_ms))
    else:
        readers.append(PeriodicExportingMetricReader(ConsoleMetricExporter(), export_interval_millis=interval_ms))
    return MeterProvider(metric_readers=readers, resource=resource, shutdown_on_exit=False), close


def _prometheus(host: str, port: int) -> tuple[MetricReader, Closer]:
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from prometheus_client import CollectorRegistry, start_http_server

    registry = CollectorRegistry()  # one per configuration: configuring again starts clean
    reader = PrometheusMetricReader(registry=registry, scope_info_enabled=False)  # no otel_scope_* labels
    try:
        server, thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        from elava.exceptions import SettingsError

        raise SettingsError(f"cannot serve Prometheus metrics on {host}:{port} (telemetry.prometheus_port): "
                            f"{exc.strerror}") from exc

    def close() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return reader, close


def _otlp_url(settings: TelemetrySettings, signal: str) -> str:
    return f"{settings.otlp_endpoint.rstrip('/')}/v1/{signal}"


def _otlp_headers(settings: TelemetrySettings) -> dict[str, str]:
    return {name: value.get_secret_value() for name, value in settings.otlp_headers.items()}


def _nothing() -> None:
    return None


class JsonLinesSpanExporter(SpanExporter):
    """One JSON object per finished span, appended to a file. Each line is one write on a file
    opened for appending, so the processes of one host (a worker and its policy stage) can share it."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self._lock:
            if self._fd < 0:
                return SpanExportResult.FAILURE
            for span in spans:
                os.write(self._fd, json.dumps(span_record(span), separators=(",", ":")).encode() + b"\n")
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


def span_record(span: ReadableSpan) -> dict[str, Any]:
    context, parent = span.get_span_context(), span.parent
    return {"name": span.name, "trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}",
            "parent_id": f"{parent.span_id:016x}" if parent else None,
            "service": span.resource.attributes.get("service.name"), "kind": span.kind.name,
            "start_ns": span.start_time, "end_ns": span.end_time, "status": span.status.status_code.name,
            "attributes": dict(span.attributes or {}),
            "links": [{"trace_id": f"{link.context.trace_id:032x}", "span_id": f"{link.context.span_id:016x}"}
                      for link in span.links]}
