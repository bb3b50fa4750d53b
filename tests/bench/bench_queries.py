"""Query latency with several workers: fan-out (what the workers do) against routing to the
owner of the resource's partition (the alternative), on the real broker.

    python -m tests.bench.bench_queries [--workers 3 --resources 20000 --requests 300 --bootstrap HOST:PORT]

Starts ``--workers`` `elava worker` processes in one group over 6 partitions and fills
their store with ``--resources`` synthetic resources. Then, one request at a time:

- end to end, through one worker's public API (client -> worker -> every worker ->
  merge), for a resource by uid, by id, and lists (inventory, changes);
- the two ways of answering about one resource, from this process acting as the
  asking worker with the workers' own code (`streams.drivers.worker.cluster.Coordinator`): fan-out
  asks every worker for its partitions; routing asks only the owner of the uid's
  partition (the partition Kafka's partitioner gives its shard key), which is all a
  routing worker would do after computing it. The difference between the two is what
  routing would save on each query by uid. Prints JSON (milliseconds).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

import aiohttp
from aiokafka.partitioner import DefaultPartitioner
from pydantic import SecretStr

from collectors.publish import KafkaSink
from elava.demo.simulated import free_port
from elava.kafka.clients import ensure_topics, new_producer
from elava.processes.worker_process import WorkerProcess, wait_until_processed
from elava.settings import Settings, load_settings
from elava.topics import Topics
from streams.drivers.worker.cluster import Coordinator
from streams.store.merge import merge
from tests.bench import synthetic
from tests.bench.bench_latency import run_broker

PARTITIONS = 6
TOKEN = "bench-token-" + uuid.uuid4().hex


class FixedView:
    """The group as the workers report it (/v1/cluster); this process holds nothing."""

    def __init__(self, owners: dict[str, frozenset[int]]) -> None:
        self._owners, self.this = owners, "bench"

    def owners(self) -> dict[str, frozenset[int]]:
        return self._owners

    def mine(self) -> frozenset[int]:
        return frozenset()

    def settled(self) -> bool:
        return True


def get(url: str) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        if answer.status != 200:
            raise RuntimeError(f"{url}: {answer.status}")
        return json.loads(answer.read())


def timed(call, times: int) -> dict[str, float]:
    samples = []
    for _ in range(times):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return summary(samples)


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50": round(statistics.median(ordered), 2), "p95": round(ordered[int(len(ordered) * 0.95) - 1], 2),
            "mean": round(statistics.fmean(ordered), 2)}


async def fill(settings: Settings, resources: list) -> None:
    producer = new_producer(settings.kafka)
    await producer.start()
    try:
        sink = KafkaSink(producer, Topics(settings.kafka))
        for page in synthetic.pages(resources, datetime.now(UTC) - timedelta(days=1), "bench-scan"):  # within retention
            await sink.page(page)
    finally:
        await producer.stop()


async def settled_group(port: int, workers: int) -> dict[str, frozenset[int]]:
    while True:
        cluster = await asyncio.to_thread(get, f"http://127.0.0.1:{port}/v1/cluster")
        owners = {url: frozenset(held) for url, held in cluster["workers"].items() if held}
        if cluster["settled"] and len(owners) == workers and sum(map(len, owners.values())) == PARTITIONS:
            return owners
        await asyncio.sleep(0.5)


async def coordinated(owners: dict[str, frozenset[int]], resources: list, requests: int) -> dict:
    """Fan-out against routing, asked from this process with the workers' own Coordinator."""
    partitioner, everything = DefaultPartitioner(), list(range(PARTITIONS))
    picks = random.Random(5).choices(resources, k=requests)
    async with aiohttp.ClientSession() as session:
        coordinator = Coordinator(FixedView(owners), lambda *a: None, PARTITIONS, SecretStr(TOKEN), lambda: session)

        async def fan_out(resource) -> None:
            problem, answers = await coordinator._gather("/v1/history", {"uid": resource.uid})
            if problem is not None or merge("/v1/history", {"uid": resource.uid}, answers)[0] != 200:
                raise RuntimeError(problem)

        async def routed(resource) -> None:
            partition = partitioner(synthetic.shard_for(resource).encode(), everything, everything)
            owner = next(url for url, held in owners.items() if partition in held)
            found = await coordinator._ask(owner, owners[owner], "/v1/history", {"uid": resource.uid})
            if isinstance(found, str) or found.status != 200:
                raise RuntimeError(f"{resource.uid} not at the owner of partition {partition}: {found}")

        results = {}
        for name, ask in (("fan-out", fan_out), ("routed", routed)):
            samples = []
            for resource in picks:
                start = time.perf_counter()
                await ask(resource)
                samples.append((time.perf_counter() - start) * 1000)
            results[name] = summary(samples)
    return results


async def measure(bootstrap: str, workers: int, count: int, requests: int, work: Path) -> dict:
    run = f"bench-q-{uuid.uuid4().hex[:6]}"
    base = dict(kafka__bootstrap_servers=bootstrap, kafka__topic_prefix=run, kafka__partitions=PARTITIONS,
                kafka__shard_buckets=synthetic.BUCKETS, worker__app_id=run, worker__api_token=TOKEN,
                policies__enabled=False)
    settings = [load_settings(None, **base, worker__web_port=free_port(), worker__data_dir=str(work / f"w{n}"))
                for n in range(workers)]
    await ensure_topics(settings[0].kafka)
    processes = [WorkerProcess(s, work / f"w{n}.log") for n, s in enumerate(settings)]
    for process in processes:
        process.start()
    try:
        resources = synthetic.base_resources(count)
        await fill(settings[0], resources)
        await wait_until_processed(settings[0], timeout=600)
        port = settings[0].worker.web_port
        owners = await settled_group(port, workers)
        return await run_queries(port, owners, resources, requests)
    finally:
        for process in processes:
            process.stop()


async def run_queries(port: int, owners: dict, resources: list, requests: int) -> dict:
    root, rnd = f"http://127.0.0.1:{port}", random.Random(3)
    picks = rnd.choices(resources, k=requests)
    by_uid = iter(picks * 2)
    by_id = iter(picks * 2)

    def ask(path: str, params: dict) -> None:
        get(f"{root}{path}?{urlencode(params, quote_via=quote)}")

    end_to_end = {
        "history by uid": timed(lambda: ask("/v1/history", {"uid": next(by_uid).uid}), requests),
        "history by id": timed(lambda: ask("/v1/history", {"uid": next(by_id).id}), requests),
        "inventory limit 100": timed(lambda: ask("/v1/inventory", {"limit": "100"}), max(10, requests // 10)),
        "changes limit 100": timed(lambda: ask("/v1/changes", {"since": "2026-10-01", "limit": "100"}),
                                   max(10, requests // 10)),
    }
    both = await coordinated(owners, resources, requests)
    return {"workers": len(owners), "resources": len(resources), "requests": requests,
            "end_to_end_ms": end_to_end, "one_resource_by_uid_ms": both}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--resources", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--bootstrap")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="elava-queries-") as tmp:
        env = {**os.environ, "KAFKA_PORT": str(free_port()), "KAFKA_CONTROLLER_PORT": str(free_port()),
               "KAFKA_FRESH": "1", "ELAVA_KAFKA_RUN": str(Path(tmp) / "broker")}
        if not args.bootstrap:
            run_broker("start", env)
        try:
            bootstrap = args.bootstrap or f"127.0.0.1:{env['KAFKA_PORT']}"
            result = asyncio.run(measure(bootstrap, args.workers, args.resources, args.requests, Path(tmp)))
        finally:
            if not args.bootstrap:
                run_broker("stop", env)
    result.update(machine={"cpus": os.cpu_count(), "python": platform.python_version(),
                           "load_avg_1m": os.getloadavg()[0]})
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
