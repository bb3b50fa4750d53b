"""`elava scan`: collectors and the core in one process, with a local store."""

from __future__ import annotations

from dataclasses import dataclass

from collectors.service import AccountScan, scan_once
from collectors.sink import ListSink, TeeSink
from elava.events import Resource
from elava.settings import Settings
from streams.embedded import EmbeddedPipeline, Outputs
from streams.store.kv import RocksKV
from streams.store.versioned import VersionStore


@dataclass
class EmbeddedScan:
    scans: list[AccountScan]
    resources: list[Resource]
    outputs: Outputs

    @property
    def partial(self) -> bool:
        return any(scan.report.partial for scan in self.scans)


async def embedded_scan(settings: Settings, type_names: list[str] | None = None) -> EmbeddedScan:
    kv = RocksKV(settings.storage.path)
    try:
        pipeline, listing = EmbeddedPipeline(VersionStore(kv)), ListSink()
        scans = await scan_once(settings, TeeSink(pipeline, listing), type_names)
        return EmbeddedScan(scans, listing.resources(), pipeline.outputs)
    finally:
        kv.close()
