"""Fixtures shared by unit tests of several packages."""

import pytest

from elava import telemetry
from elava.settings import TelemetrySettings


@pytest.fixture
def spans_file(tmp_path):
    """Telemetry on, its spans appended to this file (one JSON object a line); off again after."""
    path = tmp_path / "spans.jsonl"
    telemetry.configure(TelemetrySettings(traces="file", file_path=path), "test")
    yield path
    telemetry.shutdown()
