"""Every test starts from the same place, whatever the shell that runs it holds.

Settings come from ``ELAVA_<SECTION>__<FIELD>`` variables, ``$ELAVA_CONFIG`` and a
``./elava.yaml``; rich sizes its output from ``COLUMNS``; default store folders live
under the user's data directory. Any of those leaking in from the developer's shell
changed results before (``COLUMNS=79`` failed five tests, ``ELAVA_KAFKA__PARTITIONS=3``
four), so they are cleared here, at import time, before any Elava module reads them.
Tests that need one set it themselves (``monkeypatch.setenv`` or a subprocess env).
"""

from __future__ import annotations

import os
import tempfile

# Kept: how the test session finds or starts its broker and the opa binary (not Elava settings).
_KEPT = ("ELAVA_TEST_", "ELAVA_KAFKA_HOME", "ELAVA_KAFKA_RUN", "ELAVA_EXTRA_KAFKA_VERSIONS", "ELAVA_OPA")


def _isolate() -> None:
    for name in list(os.environ):
        if name.startswith("ELAVA_") and not name.startswith(_KEPT):
            del os.environ[name]
    for name in ("COLUMNS", "LINES", "AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        os.environ.pop(name, None)
    scratch = tempfile.mkdtemp(prefix="elava-tests-")
    # Default store and worker folders (platformdirs) go to a scratch place, not the user's.
    os.environ["XDG_DATA_HOME"] = os.path.join(scratch, "data")
    os.environ["XDG_CONFIG_HOME"] = os.path.join(scratch, "config")
    # A ./elava.yaml in the folder pytest runs from must not configure the tests.
    empty = os.path.join(scratch, "elava.yaml")
    open(empty, "w").close()
    os.environ["ELAVA_CONFIG"] = empty


_isolate()
