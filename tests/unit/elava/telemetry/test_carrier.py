"""traceparent in Kafka headers: what one part injects, the next extracts as the same trace."""

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import get_current_span

from elava.telemetry.carrier import extract, inject

TRACER = TracerProvider().get_tracer("test")


def test_the_headers_carry_the_current_span_and_come_back_as_its_context():
    with TRACER.start_as_current_span("scan") as span:
        headers = inject()
    sent = span.get_span_context()
    assert [name for name, _ in headers] == ["traceparent"]
    assert all(isinstance(value, bytes) for _, value in headers)
    received = get_current_span(extract(headers)).get_span_context()
    assert (received.trace_id, received.span_id, received.is_remote) == (sent.trace_id, sent.span_id, True)


def test_a_mapping_of_headers_as_faust_may_give_them_reads_the_same():
    with TRACER.start_as_current_span("scan") as span:
        headers = dict(inject())
    assert get_current_span(extract(headers)).get_span_context().trace_id == span.get_span_context().trace_id


def test_outside_a_span_nothing_is_injected():
    assert inject() == []


def test_headers_without_a_trace_or_with_a_broken_one_give_no_parent():
    for headers in (None, [], [("ce_id", b"x")], [("traceparent", b"00-not-a-trace")],
                    [("traceparent", b"00-00000000000000000000000000000000-0000000000000000-01")]):
        assert not get_current_span(extract(headers)).get_span_context().is_valid
