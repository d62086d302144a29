"""The benchmark's CPU sampler: cores busy over a window that ends some seconds before the last sample."""

from __future__ import annotations

import os

import pytest

from bench.procs import CpuSampler, machine_cpu_s

pytestmark = pytest.mark.unit


def _sampler(samples) -> CpuSampler:
    sampler = CpuSampler({"worker": 1, "broker": 2})
    sampler.samples = samples
    return sampler


def test_cores_over_a_window_before_the_end():
    cores = os.cpu_count() or 1
    # t, machine busy s, machine all s (summed over cores), per-process CPU s
    samples = [(0.0, 0.0, 0.0, {"worker": 0.0, "broker": 0.0})]
    busy = whole = w = b = 0.0
    for t in range(1, 21):
        if t <= 10:  # a loaded step: the worker one core, the broker half, the machine all cores
            w, b, busy = w + 1.0, b + 0.5, busy + cores
        else:  # then a quiet one
            w, b, busy = w + 0.1, b + 0.05, busy + 0.25 * cores
        whole += cores
        samples.append((float(t), busy, whole, {"worker": w, "broker": b}))
    sampler = _sampler(samples)
    quiet = sampler.cores(10)
    loaded = sampler.cores(10, before_end_s=10)
    assert loaded["worker"] == 1.0 and loaded["broker"] == 0.5 and loaded["machine"] == cores
    assert loaded["rest"] == round(cores - 1.5, 2) and loaded["seconds"] == 10.0
    assert quiet["worker"] == 0.1 and quiet["broker"] == 0.05 and quiet["machine"] == round(0.25 * cores, 2)


def test_too_few_samples_give_nothing():
    assert _sampler([(0.0, 0.0, 0.0, {"worker": 0.0, "broker": 0.0})]).cores(5) == {}


def test_a_real_sampler_reads_this_process():
    busy, whole = machine_cpu_s()
    assert 0 < busy <= whole
    with CpuSampler({"self": os.getpid()}, every_s=0.05) as sampler:
        work = sum(range(2_000_000))  # some CPU of this process
    assert work > 0 and len(sampler.samples) >= 2
    got = sampler.cores(60)
    assert set(got) == {"machine", "self", "rest", "seconds"} and got["self"] >= 0
