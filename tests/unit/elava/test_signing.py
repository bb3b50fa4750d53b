"""Signed action requests: HMAC-SHA256 over the value, the key named in a header, two keys during a rotation."""

from __future__ import annotations

import pytest

from elava.exceptions import SettingsError
from elava.settings import SigningSettings, load_settings
from elava.signing import Keyring, Signer, keyring_from, signed_headers

OLD, NEW = b"old-key-0123456789abcdef", b"new-key-0123456789abcdef"
VALUE = b'{"action":"stop","uid":"arn:aws:ec2:us-east-1:123456789012:instance/i-1"}'


def test_a_signed_value_verifies_and_names_its_key():
    headers = signed_headers(VALUE, Signer("k1", OLD))
    assert dict(headers)["elava_key_id"] == b"k1"
    verdict = Keyring({"k1": OLD}).verify(VALUE, headers)
    assert (verdict.ok, verdict.key_id) == (True, "k1")


def test_a_changed_value_does_not_verify():
    headers = signed_headers(VALUE, Signer("k1", OLD))
    verdict = Keyring({"k1": OLD}).verify(VALUE.replace(b"stop", b"terminate"), headers)
    assert not verdict.ok and "bad signature" in verdict.problem


def test_a_value_signed_with_another_secret_under_a_known_id_does_not_verify():
    headers = signed_headers(VALUE, Signer("k1", b"guessed-0123456789abcdef"))
    assert not Keyring({"k1": OLD}).verify(VALUE, headers).ok


def test_unsigned_is_refused_once_a_key_is_configured_and_accepted_without_one():
    assert "unsigned" in Keyring({"k1": OLD}).verify(VALUE, []).problem
    assert Keyring({}).verify(VALUE, []).ok
    assert not Keyring({}).required and signed_headers(VALUE, None) == []


def test_during_a_rotation_both_keys_verify_and_the_new_one_signs():
    ring = Keyring({"old": OLD, "new": NEW}, signing_key_id="new")
    assert ring.signer().key_id == "new"
    for signer in (Signer("old", OLD), Signer("new", NEW)):
        assert ring.verify(VALUE, signed_headers(VALUE, signer)).key_id == signer.key_id
    after = Keyring({"new": NEW})  # the old key removed: what it signed is refused
    assert "unknown key 'old'" in after.verify(VALUE, signed_headers(VALUE, Signer("old", OLD))).problem


def test_keys_from_settings_and_files(tmp_path):
    secret = tmp_path / "k2.key"
    secret.write_text(NEW.decode() + "\n")
    ring = keyring_from(SigningSettings(key_id="k2", keys={"k1": OLD.decode()}, key_files={"k2": secret}))
    assert ring.key_ids == ["k1", "k2"] and ring.signer() == Signer("k2", NEW)
    assert "new-key" not in repr(ring.signer())


def test_bad_keys_stop_start_up_naming_the_field(tmp_path):
    with pytest.raises(SettingsError, match="signing.keys.k1.*at least 16 bytes"):
        keyring_from(SigningSettings(keys={"k1": "short"}))
    with pytest.raises(SettingsError, match="signing.key_files.k1.*cannot read"):
        keyring_from(SigningSettings(key_files={"k1": tmp_path / "missing"}))
    with pytest.raises(SettingsError, match="signing.*key_id 'k1' names none of the keys"):
        load_settings(None, signing__keys={"k2": NEW.decode()})
