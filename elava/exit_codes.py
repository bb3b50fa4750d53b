"""Exit codes a process and its supervisor share (the table in docs/operations.md)."""

# EX_TEMPFAIL: the worker made no progress with input waiting (worker.stall_timeout) and
# stopped; starting it again is the remedy (streams/drivers/worker/stall_watch.py).
STALLED_EXIT = 75
