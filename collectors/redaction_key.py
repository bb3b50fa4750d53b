"""The installation's redaction key: from settings, from a key file, or created on first use.

Every collector of one installation must redact with the same key: the same secret
must give the same digest wherever it was collected, or every scan from another
machine would look like a changed secret. So for collectors on several machines the
key is a setting (``collector.redaction_key``, e.g. from a secret store through
``ELAVA_COLLECTOR__REDACTION_KEY``) or a key file they share
(``collector.redaction_key_file``, e.g. a mounted secret). With neither, a key file is
created on first use in the data directory, readable by its owner only (0600), which
is what one machine running ``elava scan`` or ``elava collect`` needs.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

from platformdirs import user_data_dir

from collectors.redact import Redactor
from elava.exceptions import SettingsError
from elava.settings import CollectorSettings

log = logging.getLogger(__name__)
MIN_KEY_CHARS = 32


def default_key_path() -> Path:
    return Path(user_data_dir("elava")) / "redaction.key"


def redactor_for(collector: CollectorSettings) -> Redactor:
    """The redactor of this installation, as the settings say where its key comes from."""
    if collector.redaction_key is not None:
        return Redactor(collector.redaction_key.get_secret_value().strip().encode())
    if collector.redaction_key_file is not None:
        return Redactor(read_key(collector.redaction_key_file, "collector.redaction_key_file"))
    return Redactor(load_or_create_key(default_key_path()))


def load_or_create_key(path: Path) -> bytes:
    """The key in ``path``; a new random one (mode 0600) if there is none yet."""
    if not path.exists():
        _create(path)
    return read_key(path, "collector.redaction_key_file")


def _create(path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        # O_EXCL: two collectors starting together must not both write a key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as file:
        file.write(secrets.token_hex(32) + "\n")
    log.warning("created a redaction key at %s; collectors on other machines must use the same key "
                "(collector.redaction_key or collector.redaction_key_file, see docs/operations.md)", path)


def read_key(path: Path, setting: str) -> bytes:
    """The key held in a file that other users cannot read; a clear error naming ``setting`` otherwise.

    (A group may read it: a mounted secret shared with a service group is a choice.)
    """
    try:
        mode = path.stat().st_mode
        text = path.read_text().strip()
    except OSError as exc:
        raise SettingsError(f"invalid setting '{setting}': cannot read redaction key {path}: {exc.strerror}") from exc
    if mode & stat.S_IRWXO:
        raise SettingsError(f"invalid setting '{setting}': redaction key {path} is open to other users "
                            f"(mode {stat.S_IMODE(mode):04o}); make it owner-only: chmod 600 {path}")
    if len(text) < MIN_KEY_CHARS:
        raise SettingsError(f"invalid setting '{setting}': redaction key {path} holds fewer than "
                            f"{MIN_KEY_CHARS} characters (e.g. write the output of: openssl rand -hex 32)")
    return text.encode()
