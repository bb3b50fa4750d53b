"""The redaction key: created owner-only on first use, else from settings or a shared file."""

from __future__ import annotations

import os
import stat

import pytest

from collectors.redaction_key import default_key_path, load_or_create_key, redactor_for
from elava.exceptions import SettingsError
from elava.settings import CollectorSettings, load_settings

KEY_TEXT = "0123456789abcdef0123456789abcdef-shared"


def test_a_key_is_created_on_first_use_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "data" / "redaction.key"

    key = load_or_create_key(path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) >= 32
    assert load_or_create_key(path) == key  # the second use reads it back


def test_the_default_key_lives_in_the_data_directory_and_stays(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    first = redactor_for(CollectorSettings())

    assert default_key_path() == tmp_path / "elava" / "redaction.key"
    assert stat.S_IMODE(default_key_path().stat().st_mode) == 0o600
    assert redactor_for(CollectorSettings()).value("hunter2") == first.value("hunter2")


def test_a_new_key_file_is_created_owner_only_even_under_a_lax_umask(tmp_path):
    old = os.umask(0)
    try:
        load_or_create_key(tmp_path / "redaction.key")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "redaction.key").stat().st_mode) == 0o600


def test_collectors_sharing_the_key_setting_agree_and_a_key_file_gives_the_same(tmp_path):
    path = tmp_path / "shared.key"
    path.write_text(KEY_TEXT + "\n")
    path.chmod(0o400)
    from_setting = redactor_for(CollectorSettings(redaction_key=KEY_TEXT))
    from_file = redactor_for(CollectorSettings(redaction_key_file=path))

    assert from_setting.value("hunter2") == from_file.value("hunter2")
    assert from_setting.key_id == from_file.key_id


def test_the_key_setting_is_secret_and_long_enough(monkeypatch):
    monkeypatch.setenv("ELAVA_COLLECTOR__REDACTION_KEY", KEY_TEXT)
    settings = load_settings(None)
    assert KEY_TEXT not in repr(settings) and KEY_TEXT not in str(settings.collector)

    monkeypatch.setenv("ELAVA_COLLECTOR__REDACTION_KEY", "changeme")
    with pytest.raises(SettingsError, match="collector.redaction_key': .*at least 32 characters"):
        load_settings(None)


def test_key_and_key_file_together_are_refused(tmp_path):
    with pytest.raises(SettingsError, match="redaction_key or collector.redaction_key_file, not both"):
        load_settings(None, collector__redaction_key=KEY_TEXT, collector__redaction_key_file=str(tmp_path / "k"))


def test_a_key_file_others_can_read_is_refused(tmp_path):
    path = tmp_path / "shared.key"
    path.write_text(KEY_TEXT)
    path.chmod(0o644)
    with pytest.raises(SettingsError, match=r"redaction_key_file'.*open to other users \(mode 0644\).*chmod 600"):
        redactor_for(CollectorSettings(redaction_key_file=path))


def test_a_configured_key_file_that_is_missing_or_short_is_an_error_not_a_new_key(tmp_path):
    missing = tmp_path / "mounted" / "redaction.key"
    with pytest.raises(SettingsError, match="redaction_key_file': cannot read redaction key"):
        redactor_for(CollectorSettings(redaction_key_file=missing))
    assert not missing.exists()  # a new key here would disagree with the other collectors

    short = tmp_path / "short.key"
    short.write_text("changeme")
    short.chmod(0o600)
    with pytest.raises(SettingsError, match="fewer than 32 characters"):
        redactor_for(CollectorSettings(redaction_key_file=short))
