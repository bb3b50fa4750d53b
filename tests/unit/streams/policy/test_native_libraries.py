"""regopy and rocksdict in one process: the worker holds a RocksDB store and the engine."""

from __future__ import annotations

import subprocess
import sys

OPEN_A_STORE_AFTER_THE_ENGINE = """
import sys
from pathlib import Path
import streams.policy  # loads regopy (and, before it, rocksdict)
from streams.store.kv import RocksKV
store = RocksKV(Path(sys.argv[1]) / "store")
store.close()
print("opened")
"""


def test_a_store_opens_after_the_policy_engine_is_imported(tmp_path):
    # Loaded before rocksdict, regopy makes RocksDB abort the process on open.
    done = subprocess.run([sys.executable, "-c", OPEN_A_STORE_AFTER_THE_ENGINE, str(tmp_path)],
                          capture_output=True, text=True)
    assert (done.returncode, done.stdout.strip()) == (0, "opened"), done.stderr
