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
