"""The benchmark scripts' own arithmetic, and a short run of each measurement they report."""

import pytest

from benchmarks import speed, threads


def test_gemm_flops_of_the_reference_network():
    shapes = speed.gemm_shapes([784, 256, 128, 10], 128)
    # forward and weight gradient for each of 3 layers, input gradient for the last 2
    assert len(shapes) == 8
    timings = []
    for name, a, b, layout in shapes:  # the operands as time_gemms() multiplies them
        a_op = a[::-1] if layout == "aT" else a
        b_op = b[::-1] if layout == "bT" else b
        assert a_op[1] == b_op[0], name
        timings.append({"gemm": name, "flops": 2 * a_op[0] * a_op[1] * b_op[1], "seconds": 1e-4, "gflops": 1.0})
    bound = speed.gemm_bound([timings], 60_000, 128)
    per_step = 2 * 128 * (784 * 256 + 256 * 128 + 128 * 10) * 2 + 2 * 128 * (256 * 128 + 128 * 10)
    assert bound["epoch_gflop"] == pytest.approx(per_step * 60_000 / 128 / 1e9)
    assert bound["epoch_gflop"] == pytest.approx(60.4, abs=0.05)
    assert bound["bound_seconds"] == pytest.approx(8e-4 * 60_000 / 128)


def test_one_thread_bound_is_measured_in_a_child_process():
    one = speed.one_thread_gemm_bound(60_000, rounds=1)
    assert one["gflops"] > 0 and one["bound_seconds"] > 0
    assert one["epoch_gflop"] == pytest.approx(60.4, abs=0.05)


def test_thread_measurements_run_and_report_speedups():
    scaling = threads.elementwise_scaling(sizes=(2**12,), elements=2 * 10**6, rounds=1)
    assert scaling[0]["elements_per_call"] == 4096 and scaling[0]["speedup"] > 0
    adam = threads.adam_update(steps=20, rounds=1)
    assert adam["one_thread"] > 0 and adam["two_threads"] > 0
    assert adam["speedup"] == pytest.approx(adam["one_thread"] / adam["two_threads"])
    assert threads.half_update(steps=10, rounds=1) > 0
