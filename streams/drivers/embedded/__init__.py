"""The embedded driver: `elava scan` runs the collectors and the core in one process, no broker.

`scan.py` drives the collectors into `pipeline.py`, which runs the same partition processing
as the worker.
"""
