"""bench/apply_path.py: the agent's in-process path applies a generated data set exactly."""
import pytest

from bench import apply_path

pytestmark = pytest.mark.unit


def test_the_whole_quick_data_set_applies_to_the_generators_expected_stock(tmp_path, capsys):
    assert apply_path.main(["--quick", "--rounds", "1", "--cache-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "every stock exact" in out and "output records" in out


def test_a_difference_fails_the_run(tmp_path, monkeypatch, capsys):
    real = apply_path.apply_all

    def one_off(*args, **kwargs):
        cpu, records, stock = real(*args, **kwargs)
        key = next(iter(stock))
        stock[key] += 1  # one milli-unit wrong
        return cpu, records, stock

    monkeypatch.setattr(apply_path, "apply_all", one_off)
    assert apply_path.main(["--quick", "--rounds", "1", "--cache-dir", str(tmp_path)]) == 1
    assert "DIFFERS" in capsys.readouterr().out
