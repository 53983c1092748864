"""A short run of benchmarks/slices.py: a state's size and save + restore time against an epoch."""

import json

import pytest

from benchmarks import slices

pytestmark = pytest.mark.slow


def test_slices_reports_sizes_and_times_for_both_networks(mnist, capsys):
    slices.main(["--samples", "512", "--repeats", "1", "--epochs", "1", "--json"])
    result = json.loads(capsys.readouterr().out)
    small, wide = result["networks"]
    assert small["network"] == "784-128-10" and wide["network"] == "784-1024-1024-10"
    for r in (small, wide):
        n = r["parameters"]
        # float32: Adam keeps the weights and two moments; SGD only the weights; best weights add a copy
        assert 12 * n < r["adam_bytes"] < 12 * n + 2**20
        assert r["adam_best_bytes"] == pytest.approx(r["adam_bytes"] + 4 * n, abs=2**10)
        assert 4 * n < r["sgd_bytes"] < 4 * n + 2**20
        assert r["save_seconds"] > 0 and r["restore_seconds"] > 0 and r["epoch_seconds"] > 0
