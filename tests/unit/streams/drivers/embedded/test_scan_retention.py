"""`elava scan` enforces the retention window after scanning (bounded, continued next scan)."""

from datetime import timedelta

from elava.events import utcnow
from elava.settings import Settings
from streams.drivers.embedded import scan as embedded
from streams.observe import Observer
from streams.store.kv import RocksKV
from streams.store.versioned import VersionStore
from tests.unit.streams.fixtures import marker, page, sg, shard


async def test_a_scan_forgets_what_fell_out_of_the_window(tmp_path, monkeypatch):
    settings = Settings(storage={"path": tmp_path / "store", "retention": "30d"})
    long_ago, recently = utcnow() - timedelta(days=40), utcnow() - timedelta(days=2)
    kv = RocksKV(settings.storage.path)
    observer = Observer(VersionStore(kv))
    observer.observe(page([sg("sg-old")], long_ago, scan="s1"))
    observer.close_scan(marker(shard(sg("sg-old")), [], long_ago + timedelta(hours=1), scan="s2"))
    observer.observe(page([sg("sg-new", {"v": "1"})], long_ago, scan="s3"))
    observer.observe(page([sg("sg-new", {"v": "2"})], recently, scan="s4"))
    kv.close()

    async def no_accounts(_settings):
        return []

    monkeypatch.setattr(embedded, "discover_accounts", no_accounts)
    await embedded.embedded_scan(settings)

    kv = RocksKV(settings.storage.path, read_only=True)
    store = VersionStore(kv)
    assert store.head(sg("sg-old").uid) is None  # tombstone older than the window: gone entirely
    assert [v.version for v in store.versions(sg("sg-new").uid)] == [1, 2]  # v1 is the edge: kept
    kv.close()
