"""`elava worker` with timers around the agent, for the pipeline benchmark's ``--probe``.

    python -m tests.bench.worker_probe worker [elava worker options]

It patches (in this process only) the agent's message handler, its output sends, the
processing core, Faust's producer-buffer back-pressure, the consumer's fetches and
the garbage collector, then runs the normal CLI. Every 2 s it logs one JSON line
(``probe {...}``) with cumulative seconds: how long the agent spent handling messages
(and, within that, parsing, processing and awaiting sends; reading heads together, wall and
CPU; RocksDB's write of each message's batch, wall and CPU), how long it then spent handing
the message's records to the producer (``sends_flush``: aiokafka waits there while a
partition's previous batch is still in the request in flight), how long it waited between
one message and the next (``agent_between``: for its input, or for the loop's other work),
how long the conductor held the stream waiting for Faust's producer buffer to ebb, how long
fetches took, how long the GC ran, and how long the event loop had no work at all.

"""

from __future__ import annotations

import asyncio
import functools
import selectors
import sys
import threading
import time
from collections import Counter

import orjson

TOTALS: Counter = Counter()


def _timed_async(name: str, fn):
    @functools.wraps(fn)
    async def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return await fn(*args, **kwargs)
        finally:
            TOTALS[name] += time.perf_counter() - started
            TOTALS[name + "#"] += 1
    return wrapper


def _timed(name: str, fn, *, cpu: bool = False, items: int | None = None):
    """Wall time (and with ``cpu`` this thread's CPU and the calls: where wall exceeds CPU, the
    call waited, for I/O or the GIL); ``items``: the position of an argument whose length is
    summed as ``<name>_items`` (e.g. the heads asked for)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        started, cpu_started = time.perf_counter(), time.thread_time() if cpu else 0.0
        try:
            return fn(*args, **kwargs)
        finally:
            TOTALS[name] += time.perf_counter() - started
            if cpu:
                TOTALS[name + "_cpu"] += time.thread_time() - cpu_started
                TOTALS[name + "#"] += 1
            if items is not None:
                TOTALS[name + "_items"] += len(args[items])
    return wrapper


class _IdleSelector(selectors.EpollSelector):
    """Counts the time the event loop sleeps in epoll with nothing to do."""

    def select(self, timeout=None):
        if threading.current_thread() is not threading.main_thread():
            return super().select(timeout)
        started = time.perf_counter()
        try:
            return super().select(timeout)
        finally:
            TOTALS["loop_idle"] += time.perf_counter() - started


async def _report() -> None:
    started = time.perf_counter()
    while True:
        await asyncio.sleep(2.0)
        line = {k: round(v, 3) if isinstance(v, float) else v for k, v in sorted(TOTALS.items())}
        line["wall"] = round(time.perf_counter() - started, 3)
        line["now"] = time.time()
        print("probe " + orjson.dumps(line).decode(), file=sys.stderr, flush=True)


# A longer wait between two messages is the pause between the benchmark's rounds, not counted.
BETWEEN_ROUNDS_S = 1.0


def _between_messages(fn):
    """``fn`` (the agent's handler per message) as is, summing the wait from the end of one call
    to the start of the next as ``agent_between`` (waits of ``BETWEEN_ROUNDS_S`` or more left out)."""
    last_end = None

    @functools.wraps(fn)
    async def wrapper(*args, **kwargs):
        nonlocal last_end
        started = time.perf_counter()
        if last_end is not None and started - last_end < BETWEEN_ROUNDS_S:
            TOTALS["agent_between"] += started - last_end
        try:
            return await fn(*args, **kwargs)
        finally:
            last_end = time.perf_counter()
    return wrapper


def _counted_fetch(fn):
    @functools.wraps(fn)
    async def wrapper(*args, **kwargs):
        started = time.perf_counter()
        records = await fn(*args, **kwargs)
        TOTALS["fetch_wait"] += time.perf_counter() - started
        TOTALS["fetch#"] += 1
        TOTALS["fetch_records"] += sum(len(r) for r in records.values())
        if not records:
            TOTALS["fetch_empty#"] += 1
        return records
    return wrapper


def _gc_timer() -> None:
    import gc

    started = [0.0]

    def callback(phase, info):
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            TOTALS[f"gc{info['generation']}"] += time.perf_counter() - started[0]
            TOTALS[f"gc{info['generation']}#"] += 1

    gc.callbacks.append(callback)


def install() -> None:
    _gc_timer()
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
    from faust.transport.producer import ProducerBuffer

    AIOKafkaConsumerThread.getmany = _counted_fetch(AIOKafkaConsumerThread.getmany)
    import streams.drivers.worker.app as app
    import streams.drivers.worker.batch_send as batch_send
    import streams.drivers.worker.sinks as sinks
    import streams.process as process
    import streams.store.kv as kv
    import streams.store.versioned as versioned

    app.handle_message = _timed_async("agent_handle", app.handle_message)
    app.handle_until_done = _between_messages(app.handle_until_done)
    batch_send.BatchedSends.flush = _timed_async("sends_flush", batch_send.BatchedSends.flush)
    kv.RdictKV.write = _timed("rocksdb_write", kv.RdictKV.write, cpu=True)
    sinks.WorkerSinks.publish = _timed_async("agent_send", sinks.WorkerSinks.publish)
    app.parse_message = _timed("agent_parse", app.parse_message)
    process.PartitionProcessor.process = _timed("agent_process", process.PartitionProcessor.process)
    versioned.VersionStore.head_leads_of = _timed("heads_read", versioned.VersionStore.head_leads_of,
                                                   cpu=True, items=1)
    ProducerBuffer.wait_until_ebb = _timed_async("conductor_wait_producer_ebb", ProducerBuffer.wait_until_ebb)
    original_start = app.create_app

    def create_app(settings):
        faust_app = original_start(settings)

        @faust_app.task
        async def probe_report() -> None:
            await _report()

        return faust_app

    app.create_app = create_app
    asyncio.set_event_loop_policy(_Policy())


class _Policy(asyncio.DefaultEventLoopPolicy):
    def new_event_loop(self):
        return asyncio.SelectorEventLoop(_IdleSelector())


if __name__ == "__main__":
    install()
    from elava.cli.main import main

    sys.argv[0] = "elava"
    main()
