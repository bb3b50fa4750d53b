"""A broker that cannot be reached or refuses us stops a command with one line, not a traceback."""

import os
import subprocess
import sys

from elava.demo.simulated import free_port


def test_an_unreachable_broker_is_one_line_naming_the_setting():
    port = free_port()  # nothing listens there
    done = subprocess.run([sys.executable, "-m", "elava", "topics", "create", "-b", f"127.0.0.1:{port}"],
                          capture_output=True, text=True, env=os.environ, timeout=60)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert line.startswith(f"error: Kafka at 127.0.0.1:{port} cannot be reached (")
    assert line.endswith("check kafka.bootstrap_servers")
