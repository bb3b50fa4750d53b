"""elava.telemetry: off costs no SDK, on traces and counts what the pipeline does."""

import json
import subprocess
import sys
import urllib.request
from types import SimpleNamespace

import pytest

from elava import telemetry
from elava.demo.simulated import free_port
from elava.events import cloudevent_headers
from elava.settings import TelemetrySettings
from tests.unit.streams.fixtures import T0, page, sg


@pytest.fixture
def scrape():
    port = free_port()
    telemetry.configure(TelemetrySettings(metrics="prometheus", prometheus_port=port), "test")

    def read() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
            return answer.read().decode()

    yield read
    telemetry.shutdown()


def spans(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_off_no_opentelemetry_module_is_loaded_and_headers_carry_no_trace():
    code = ("import sys; from elava.events import cloudevent_headers; from tests.unit.streams.fixtures import T0, page, sg;"
            "from elava import telemetry; from elava.settings import TelemetrySettings;"
            "telemetry.configure(TelemetrySettings(), 'test');"
            "headers = cloudevent_headers(page([sg('sg-1')], T0), 'x');"
            "print([n for n, _ in headers if n == 'traceparent'], sorted(m for m in sys.modules if 'opentelemetry' in m))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[] []"


def test_off_spans_are_one_shared_do_nothing_context():
    assert telemetry.span("a") is telemetry.span("b") is telemetry.consumed("c", object())
    assert telemetry.trace_headers() == []


def test_an_event_made_in_a_span_carries_its_trace_and_the_consumer_continues_it(spans_file):
    with telemetry.span("elava.collector.scan", {"elava.type": "ec2.security-group"}):
        headers = cloudevent_headers(page([sg("sg-1")], T0), "elava/collector")
    record = SimpleNamespace(topic="elava.observations", partition=3, offset=41, headers=headers)
    with telemetry.consumed("elava.worker.process", record):
        produced = cloudevent_headers(page([sg("sg-1")], T0), "elava/worker")
    scan, process = sorted(spans(spans_file), key=lambda s: s["start_ns"])
    assert process["trace_id"] == scan["trace_id"] and process["parent_id"] == scan["span_id"]
    assert process["attributes"]["messaging.kafka.offset"] == 41 and process["kind"] == "CONSUMER"
    assert dict(produced)["traceparent"].decode().startswith(f"00-{scan['trace_id']}-{process['span_id']}-")
    assert scan["service"] == "elava-test"


def test_a_record_without_a_trace_starts_one(spans_file):
    record = SimpleNamespace(topic="t", partition=0, offset=0, headers=[("ce_id", b"x")])
    with telemetry.consumed("elava.executor.handle", record):
        pass
    (only,) = spans(spans_file)
    assert only["parent_id"] is None


def test_counts_are_read_from_the_prometheus_endpoint(scrape):
    observed = page([sg("sg-1")], T0)
    created = SimpleNamespace(kind="created", type="ec2.security-group")
    produced = SimpleNamespace(changes=[created, created],
                               drift=[SimpleNamespace(severity="high")])
    telemetry.record_page(produced, observed)
    telemetry.record_dead_letter("processing error: KeyError: 'x'", "elava/worker")
    telemetry.record_aws("ec2", calls=5, throttles=2)
    telemetry.record_scan("ec2.instance", "ok", 1.5)
    telemetry.record_lag("elava-worker", "elava.observations", 2, 7)
    telemetry.watch_store(lambda: [(2, 4096, 10)])
    text = scrape()
    assert 'elava_observations_total{type="ec2.security-group"} 1.0' in text
    assert 'elava_changes_total{kind="created",type="ec2.security-group"} 2.0' in text
    assert 'elava_drift_total{severity="high"} 1.0' in text
    assert 'elava_dlq_total{by="elava/worker",reason="processing error"} 1.0' in text
    assert 'elava_aws_calls_total{service="ec2"} 5.0' in text and 'elava_aws_throttles_total{service="ec2"} 2.0' in text
    assert 'elava_scan_duration_seconds_count{status="ok",type="ec2.instance"} 1.0' in text
    assert 'elava_consumer_lag{group="elava-worker",partition="2",topic="elava.observations"} 7.0' in text
    assert 'elava_store_size_bytes{partition="2"} 4096.0' in text and 'elava_store_keys{partition="2"} 10.0' in text


def test_policy_decisions_and_action_requests_are_counted_by_what_they_say(scrape):
    decision = SimpleNamespace(policy="ssh", decision="deny")
    request = SimpleNamespace(action="notify", mode="notify", policy="ssh")
    telemetry.record_policy_events([decision, decision, request])
    telemetry.record_result("notify", "notified")
    text = scrape()
    assert 'elava_policy_decisions_total{decision="deny",policy="ssh"} 2.0' in text
    assert 'elava_actions_requested_total{action="notify"} 1.0' in text
    assert 'elava_actions_results_total{action="notify",status="notified"} 1.0' in text


def test_a_port_in_use_stops_start_up_naming_the_setting():
    import socket

    from elava.exceptions import SettingsError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SettingsError, match=rf"127.0.0.1:{port} \(telemetry.prometheus_port\)"):
            telemetry.configure(TelemetrySettings(metrics="prometheus", prometheus_port=port), "test")
    telemetry.shutdown()


def _schema_error(call, *args) -> str:
    from elava.exceptions import SchemaError

    with pytest.raises(SchemaError) as caught:
        call(*args)
    return str(caught.value)


def emitted_reasons() -> dict[str, str]:
    """DLQ reasons as the code words them, made by the code itself where a call makes one."""
    from elava.events import AttributedChange, Observation
    from elava.parts import Part, parse_part
    from streams.chunks import PartAssembler
    from streams.inputs import parse_observation_message
    from streams.store.kv import MemoryKV

    last = Part(shard="111122223333/us-east-1/ec2.instance/3", whole_type="elava.observation",
                whole_id="evt-5f1c2e9a", scan_id="scan-1", index=2, count=3, data=b"")
    part_headers = [(name, b"x") for name in ("elava_whole_type", "elava_whole_id", "elava_scan_id")]
    return {
        "not valid JSON": _schema_error(Observation.from_bytes, b"{"),
        "expected a JSON object": _schema_error(Observation.from_bytes, b"[]"),
        "unsupported schema_version": _schema_error(Observation.from_bytes, b'{"schema_version": 999}'),
        "invalid event": _schema_error(AttributedChange.from_bytes, b'{"schema_version": 1}'),
        "empty key": _schema_error(parse_observation_message, b"", b"{}", []),
        "empty value": _schema_error(parse_observation_message, b"k", b"", []),
        "unknown or missing ce_type header": _schema_error(parse_observation_message, b"k", b"{}", []),
        "key does not match the shard in the body": "key b'a/b/c/1' does not match the shard 'a/b/c/2' in the body",
        "part without valid part headers": _schema_error(parse_part, b"k", b"", part_headers),
        "missing parts": _schema_error(PartAssembler(MemoryKV()).complete, last),
        "shard layout mismatch": "shard layout mismatch: table partition 3 was built with kafka.shard_buckets=8, "
                                 "this worker runs with kafka.shard_buckets=16; nothing was applied or deleted",
        "processing error": "processing error: KeyError: 'i-0abc'",
    }


@pytest.mark.parametrize("label", list(emitted_reasons()))
def test_a_dlq_reason_the_code_emits_has_its_label(label):
    assert telemetry.reason_class(emitted_reasons()[label]) == label


@pytest.mark.parametrize("reason", ["", "evt-5f1c2e9a", "a reason nobody emits yet: i-0abc", "Not valid JSON: x"])
def test_any_other_dlq_reason_is_other_never_its_text(reason):
    assert telemetry.reason_class(reason) == "other"


def test_dlq_labels_are_a_fixed_set():
    labels = [label for label, _ in telemetry.DLQ_REASON_CLASSES]
    assert len(labels) == len(set(labels)) and "other" not in labels


def test_otlp_sends_spans_and_metrics_to_the_endpoint_over_http():
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[tuple[str, str, str | None]] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the http.server name
            self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, self.headers["Content-Type"], self.headers.get("x-api-key")))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings = TelemetrySettings(traces="otlp", metrics="otlp", otlp_headers={"x-api-key": "k"},
                                     otlp_endpoint=f"http://127.0.0.1:{server.server_port}/")
        telemetry.configure(settings, "test")
        with telemetry.span("elava.collector.scan"):
            telemetry.record_aws("ec2", calls=1, throttles=0)
        telemetry.shutdown()  # flushes both
    finally:
        server.shutdown()
        server.server_close()
    assert sorted(received) == [("/v1/metrics", "application/x-protobuf", "k"),
                                ("/v1/traces", "application/x-protobuf", "k")]


async def test_every_dead_letter_is_counted_by_reason_and_part(scrape):
    from streams.dlq.letters import dead_letter

    sent = []

    async def send(key, value, headers):
        sent.append(value)

    record = SimpleNamespace(topic="elava.actions", partition=0, offset=9, key=b"k", value=b"{", headers=[])
    await dead_letter(send, record, "not valid JSON: unexpected end of data", by="elava/executor")
    assert sent == [b"{"]
    assert 'elava_dlq_total{by="elava/executor",reason="not valid JSON"} 1.0' in scrape()
