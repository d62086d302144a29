"""The stock table's RocksDB memory limits come from the settings, not Faust's per-partition defaults."""

import pytest

from bazaar_core.settings import Settings
from streams.app import build

pytestmark = pytest.mark.unit


def test_the_stock_table_opens_its_databases_with_the_configured_memory_limits(tmp_path):
    settings = Settings(
        data_dir=tmp_path, stream_rocksdb_write_buffer_mb=4, stream_rocksdb_write_buffers=3, stream_rocksdb_block_cache_mb=8
    )
    store = build(settings).stock.data  # faust.stores.rocksdb.Store
    options = store.rocksdb_options
    assert (options.write_buffer_size, options.max_write_buffer_number, options.block_cache_size) == (4 << 20, 3, 8 << 20)
    assert options.use_rocksdict
    db = options.open(tmp_path / "p0.db")  # what the store opens per partition
    db[b"k"] = b"v"
    assert db[b"k"] == b"v"
    db.close()


def test_the_default_block_cache_is_bounded_well_below_faust_s():
    s = Settings()
    per_partition_mb = s.stream_rocksdb_write_buffer_mb * s.stream_rocksdb_write_buffers + s.stream_rocksdb_block_cache_mb
    assert per_partition_mb <= 256 < 3 * 64 + 2048  # Faust's own: 3 x 64 MB memtables and a 2 GB block cache
