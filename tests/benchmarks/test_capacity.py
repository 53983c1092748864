"""A short run of benchmarks/capacity.py: protocol-level sessions draw and train; readings arrive, no errors."""

import pytest

pytestmark = pytest.mark.slow


def test_sessions_draw_and_train_through_the_websocket_protocol(mnist):
    from benchmarks.capacity import run

    result = run(sessions=3, trainers=1, duration=8, think=1.0, seed=1)
    print(result)
    assert result["errors"] == 0, result["error_examples"]
    assert result["readings"] >= 3  # every session saw at least one Prediction, each the one expected
    assert result["clears"] >= 1
    assert result["trainer_epochs_seen"] and result["trainer_epochs_seen"][0] >= 1  # the run trained meanwhile
    assert result["peak_rss_with_workers_mb"] >= result["peak_rss_server_mb"] > 0
    # Latency is reported, not asserted: this machine is shared.


def test_run_cost_measures_a_stroke_and_a_clear_of_one_session(mnist):
    from benchmarks.capacity import run_cost

    result = run_cost(reps=5, seed=1)
    print(result)
    assert result["errors"] == 0  # every stroke got its reading
    assert result["stroke_run_ms"] > 0 and result["clear_ms"] > 0
    assert result["repetitions"] == 5
