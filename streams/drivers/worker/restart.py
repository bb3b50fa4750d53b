"""The worker's way out when going on would lose or hang: log why, end at once, be started again.

A crash loses nothing (the store and the input offsets survive SIGKILL: the crash test),
so ending the process is safe where continuing is not. Exit code 75 (EX_TEMPFAIL) tells
the worker's supervisor (systemd, Kubernetes) to start it again (docs/operations.md).
"""

from __future__ import annotations

import logging
import os

from elava.exit_codes import STALLED_EXIT

log = logging.getLogger("elava.worker")


def exit_for_restart(reason: str) -> None:
    """Log ``reason`` as an error, flush the logs, and end the process with code 75 (no clean-up:
    a clean stop would flush the producer and let Faust commit the input)."""
    log.error("%s; exiting with code %d for the worker's supervisor to start it again", reason, STALLED_EXIT)
    for handler in logging.getLogger().handlers + log.handlers:
        handler.flush()
    os._exit(STALLED_EXIT)
