"""The Kubernetes worker's memory limit leaves room for the RocksDB memory its settings allow when
one worker holds every partition (the other pod down), plus the Python heap."""

import re
from pathlib import Path

import pytest

from bazaar_core.settings import Settings

pytestmark = pytest.mark.unit

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
PYTHON_HEAP_MIB = 768  # worker RSS beyond RocksDB, measured up to ~700 MiB with 2 M keys (bench scale stage)
_UNITS = {"Mi": 1, "Gi": 1024}
MEMORY_SETTINGS = (
    "BAZAAR_PARTITIONS",
    "BAZAAR_STREAM_ROCKSDB_WRITE_BUFFER_MB",
    "BAZAAR_STREAM_ROCKSDB_WRITE_BUFFERS",
    "BAZAAR_STREAM_ROCKSDB_BLOCK_CACHE_MB",
)


def _config() -> dict[str, str]:
    return dict(re.findall(r'^\s+(BAZAAR_\w+):\s*"?([^"\n]*)"?\s*$', (K8S / "config.yaml").read_text(), re.M))


def _worker_limit_mib() -> int:
    amount, unit = re.search(r"limits:\s*\{memory:\s*(\d+)(Mi|Gi)\}", (K8S / "worker.yaml").read_text()).groups()
    return int(amount) * _UNITS[unit]


def test_a_worker_holding_every_partition_fits_its_memory_limit():
    config = _config()
    assert set(MEMORY_SETTINGS) <= set(config)
    s = Settings(**{k.removeprefix("BAZAAR_").lower(): config[k] for k in MEMORY_SETTINGS})
    rocksdb = s.partitions * (s.stream_rocksdb_write_buffer_mb * s.stream_rocksdb_write_buffers + s.stream_rocksdb_block_cache_mb)
    assert _worker_limit_mib() >= rocksdb + PYTHON_HEAP_MIB, (rocksdb, _worker_limit_mib())
