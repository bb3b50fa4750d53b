"""The telemetry settings: off by default, and an exporter without what it needs stops start-up naming it."""

import pytest

from elava.exceptions import SettingsError
from elava.settings import load_settings


def test_off_by_default():
    telemetry = load_settings(None).telemetry
    assert (telemetry.traces, telemetry.metrics) == ("none", "none")


@pytest.mark.parametrize("overrides, says", [
    ({"telemetry__traces": "file"}, "telemetry.traces: file and telemetry.file_path go together"),
    ({"telemetry__file_path": "/tmp/spans.jsonl"}, "telemetry.traces: file and telemetry.file_path go together"),
    ({"telemetry__metrics": "statsd"}, "invalid setting 'telemetry.metrics': Input should be"),
    ({"telemetry__prometheus_port": 0}, "invalid setting 'telemetry.prometheus_port'"),
    ({"telemetry__sample_ratio": 1.5}, "invalid setting 'telemetry.sample_ratio'"),
])
def test_a_bad_setting_names_the_field(overrides, says):
    with pytest.raises(SettingsError, match=None) as error:
        load_settings(None, **overrides)
    assert says in str(error.value)


def test_an_exporter_whose_package_is_missing_says_how_to_install_it(monkeypatch):
    import elava.settings as settings

    monkeypatch.setattr(settings, "_importable", lambda module: False)
    with pytest.raises(SettingsError) as error:
        load_settings(None, telemetry__metrics="prometheus")
    assert "exporter prometheus needs its package: pip install 'elava[telemetry]'" in str(error.value)


def test_otlp_headers_are_secrets_from_the_environment(monkeypatch):
    monkeypatch.setenv("ELAVA_TELEMETRY__OTLP_HEADERS", '{"x-api-key": "s3cret"}')
    telemetry = load_settings(None, telemetry__traces="otlp").telemetry
    assert telemetry.otlp_headers["x-api-key"].get_secret_value() == "s3cret"
    assert "s3cret" not in repr(telemetry)


@pytest.mark.parametrize("exporter", ["traces", "metrics"])
def test_a_missing_exporter_package_names_the_field_that_chose_it(monkeypatch, exporter):
    import elava.settings as settings

    monkeypatch.setattr(settings, "_importable", lambda module: False)
    with pytest.raises(SettingsError) as error:
        load_settings(None, **{f"telemetry__{exporter}": "otlp"})
    assert f"invalid setting 'telemetry.{exporter}': exporter otlp needs its package" in str(error.value)


@pytest.mark.parametrize("endpoint", ["otel-collector:4318", "127.0.0.1:4318", "grpc://collector:4317", "http://"])
def test_an_otlp_endpoint_without_scheme_or_host_stops_start_up(endpoint):
    with pytest.raises(SettingsError) as error:
        load_settings(None, telemetry__otlp_endpoint=endpoint)
    assert f"invalid setting 'telemetry.otlp_endpoint': {endpoint!r} is not an http(s) URL" in str(error.value)


def test_an_otlp_endpoint_url_is_kept_as_given():
    endpoint = "https://otel.example.com:4318"
    assert load_settings(None, telemetry__otlp_endpoint=endpoint).telemetry.otlp_endpoint == endpoint


def test_a_spans_file_that_cannot_be_written_stops_start_up(tmp_path):
    not_a_directory = tmp_path / "a-file"
    not_a_directory.write_text("")
    for path in (not_a_directory / "spans.jsonl", tmp_path / "missing" / "spans.jsonl", tmp_path):
        with pytest.raises(SettingsError) as error:
            load_settings(None, telemetry__traces="file", telemetry__file_path=str(path))
        assert "invalid setting 'telemetry.file_path'" in str(error.value), path


def test_a_spans_file_in_a_writable_directory_is_accepted(tmp_path):
    path = tmp_path / "spans.jsonl"
    assert load_settings(None, telemetry__traces="file", telemetry__file_path=str(path)).telemetry.file_path == path
