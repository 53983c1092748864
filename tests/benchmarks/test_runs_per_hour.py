"""A short run of benchmarks/runs_per_hour.py: runs finished per hour on engines of one and two workers."""

import json

import pytest

from benchmarks import runs_per_hour

pytestmark = pytest.mark.slow


def test_runs_per_hour_reports_each_engine(mnist, capsys):
    runs_per_hour.main(["--runs", "3", "--epochs", "2", "--samples", "500", "--workers", "1", "2", "--json"])
    result = json.loads(capsys.readouterr().out)
    one, two = result["engines"]
    assert (one["workers"], two["workers"]) == (1, 2)
    for r in (one, two):
        assert r["runs_per_hour"] > 0 and r["epochs_per_minute"] > 0
        assert 0 < r["first_epoch_p50_s"] <= r["first_epoch_max_s"] <= r["seconds"]


def test_bad_counts_are_refused():
    with pytest.raises(SystemExit):
        runs_per_hour.parse_args(["--workers", "0"])
