"""The drivers: what runs the core. The Faust worker (`worker/`), the executor's runtime
(`executor/`), the embedded in-process driver (`embedded/`) and the dead-letter replay.

Everything else under `streams/` is the core, which imports none of these
(tests/unit/test_layering.py).
"""
