"""bench/apply_path.py: the agent's in-process path applies a generated data set exactly."""

import pytest

from bench import apply_path

pytestmark = pytest.mark.unit


def test_the_whole_quick_data_set_applies_to_the_generators_expected_stock(tmp_path, capsys):
    assert apply_path.main(["--quick", "--rounds", "1", "--cache-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "every stock exact" in out and "output records" in out


def test_small_batches_apply_it_exactly_too(tmp_path, capsys, monkeypatch):
    """``--batch``: the worker's batches at a steady load are small (tens of events); keys carried
    from batch to batch (cached, spilled, re-read) must come out the same."""
    sizes = []
    real = apply_path.apply_all
    monkeypatch.setattr(apply_path, "apply_all", lambda *a, **kw: sizes.append(kw["batch"]) or real(*a, **kw))
    assert apply_path.main(["--quick", "--rounds", "1", "--batch", "7", "--cache-dir", str(tmp_path)]) == 0
    assert sizes == [7] and "every stock exact" in capsys.readouterr().out


def test_the_compiled_core_applies_it_exactly_with_the_same_outputs(tmp_path, capsys):
    """``--core rust``: the same stock and as many output records as the Python rules."""
    pytest.importorskip("bazaar_batchcore", reason="the compiled core is not built (./bazaar.sh setup builds it)")
    counts = {}
    for core in ("python", "rust"):
        assert apply_path.main(["--quick", "--rounds", "1", "--batch", "60", "--core", core, "--cache-dir", str(tmp_path)]) == 0
        out = capsys.readouterr().out
        assert "every stock exact" in out
        counts[core] = out.split(" output records")[0].rsplit(" ", 1)[-1]
    assert counts["rust"] == counts["python"]


def test_a_difference_fails_the_run(tmp_path, monkeypatch, capsys):
    real = apply_path.apply_all

    def one_off(*args, **kwargs):
        cpu, records, stock, left = real(*args, **kwargs)
        key = next(iter(stock))
        stock[key] += 1  # one milli-unit wrong
        return cpu, records, stock, left

    monkeypatch.setattr(apply_path, "apply_all", one_off)
    assert apply_path.main(["--quick", "--rounds", "1", "--cache-dir", str(tmp_path)]) == 1
    assert "DIFFERS" in capsys.readouterr().out


def test_its_databases_are_opened_with_the_worker_s_options(tmp_path):
    from bazaar_core.settings import Settings

    store = apply_path._Store(tmp_path)
    settings = Settings()
    options = store.options  # faust.stores.rocksdb.RocksDBOptions, as the stock table's store holds them
    assert options.use_rocksdict
    assert (options.write_buffer_size, options.max_write_buffer_number, options.block_cache_size) == (
        settings.stream_rocksdb_write_buffer_mb << 20,
        settings.stream_rocksdb_write_buffers,
        settings.stream_rocksdb_block_cache_mb << 20,
    )
    db = store._db_for_partition(3)
    db[b"k"] = b"v"
    assert store._db_for_partition(3)[b"k"] == b"v" and (tmp_path / "3").is_dir()
    store.close()
