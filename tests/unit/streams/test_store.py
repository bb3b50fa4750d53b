from datetime import timedelta

import pytest

from elava.exceptions import StoreError
from streams.observe import Observer
from streams.store.kv import RocksKV
from streams.store.versioned import VersionStore
from tests.unit.streams.fixtures import T0, marker, page, sg, shard


@pytest.fixture
def rocks(tmp_path):
    kv = RocksKV(tmp_path / "store")
    yield kv
    kv.close()


def test_history_and_as_of_on_rocksdb(rocks):
    observer = Observer(VersionStore(rocks))
    observer.observe(page([sg("sg-1", {"v": "1"})], T0, scan="s1"))
    observer.observe(page([sg("sg-1", {"v": "2"})], T0 + timedelta(hours=1), scan="s2"))
    observer.close_scan(marker(shard(sg("sg-1")), [], T0 + timedelta(hours=2), scan="s3"))
    store = observer.store
    uid = sg("sg-1").uid
    versions = store.versions(uid)
    assert [(v.version, v.kind) for v in versions] == [(1, "created"), (2, "modified"), (3, "deleted")]
    assert versions[0].valid_to == versions[1].valid_from
    assert store.as_of(uid, T0 - timedelta(seconds=1)) is None
    assert store.as_of(uid, T0 + timedelta(minutes=30)).resource["tags"] == {"v": "1"}
    assert store.as_of(uid, T0 + timedelta(minutes=90)).resource["tags"] == {"v": "2"}
    assert store.as_of(uid, T0 + timedelta(hours=3)) is None


def test_store_survives_reopen(tmp_path):
    kv = RocksKV(tmp_path / "store")
    Observer(VersionStore(kv)).observe(page([sg("sg-1")], T0))
    kv.close()
    kv = RocksKV(tmp_path / "store")
    assert VersionStore(kv).head(sg("sg-1").uid).version == 1
    kv.close()


def test_foreign_rocksdb_directory_is_refused(tmp_path):
    import rocksdict

    options = rocksdict.Options(raw_mode=True)
    foreign = rocksdict.Rdict(str(tmp_path / "other"), options=options)
    foreign.put(b"someone-else", b"data")
    foreign.close()
    with pytest.raises(StoreError, match="not an Elava store"):
        RocksKV(tmp_path / "other")


def test_unopenable_path_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises((StoreError, FileExistsError, NotADirectoryError)):
        RocksKV(blocker / "store")


def test_get_many_answers_in_the_keys_order_with_none_for_a_missing_key(rocks):
    from streams.store.kv import MemoryKV, RdictKV

    memory = MemoryKV()
    for kv in (rocks, memory, RdictKV(rocks._db)):
        kv.put(b"k\x00a", b"1")
        kv.put(b"k\x00c", b"3")
        assert kv.get_many([b"k\x00c", b"k\x00b", b"k\x00a"]) == [b"3", None, b"1"]
        assert kv.get_many([]) == []
