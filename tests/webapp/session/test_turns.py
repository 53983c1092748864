"""Page runs take turns (webapp.session.resources.Turns): in the order they came, and one slow run holds up
the next only for its wait."""

import pytest


def _until(predicate, seconds=120):
    """Wait (briefly sleeping) until predicate() is true; fail after `seconds` (a hang guard, not a speed target)."""
    import time

    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.002)


def _run(turns, name, log, wait=10, hold=None):
    """A page run: take the turn, note how long it waited for it, hold it until `hold` is set (if given)."""
    import threading
    import time

    def body():
        asked = time.monotonic()
        with turns.turn(wait):
            log.append((name, time.monotonic() - asked))
            if hold is not None:
                hold.wait(120)

    t = threading.Thread(target=body, daemon=True)  # a test that fails leaves no thread holding up the run
    t.start()
    return t


def test_page_runs_take_turns_in_the_order_they_came():
    import threading

    from webapp.session import resources

    turns, log, gate = resources.Turns(), [], threading.Event()
    threads = [_run(turns, "first", log, hold=gate)]
    _until(lambda: turns.waiting() == 1)
    for i in range(6):  # they queue behind the first, in this order
        threads.append(_run(turns, f"run {i}", log))
        _until(lambda n=i + 2: turns.waiting() == n)
    assert [name for name, _ in log] == ["first"]  # all six wait for the first ...
    gate.set()
    for t in threads:
        t.join(120)
    assert [name for name, _ in log] == ["first"] + [f"run {i}" for i in range(6)]  # ... and go in order
    assert turns.waiting() == 0


def test_a_slow_run_holds_the_next_one_up_for_the_wait_and_the_rest_not_at_all():
    import threading

    from webapp.session import resources

    turns, log, slow_done = resources.Turns(), [], threading.Event()
    slow = _run(turns, "slow", log, wait=0.3, hold=slow_done)
    _until(lambda: turns.waiting() == 1)
    # No clock in the checks below: a run that had to wait for the slow one would wait 600 s, and
    # the slow one holds its turn until the end of the test.
    _run(turns, "quick 0", log, wait=0.3).join(120)
    assert dict(log)["quick 0"] >= 0.3  # the first waits its TURN_WAIT, then takes the turn over ...
    for i in (1, 2):  # ... so the quick runs after it need not wait, while the slow one goes on
        quick = _run(turns, f"quick {i}", log, wait=600)
        quick.join(120)
        assert not quick.is_alive() and f"quick {i}" in dict(log)
    assert not slow_done.is_set() and slow.is_alive()
    slow_done.set()
    slow.join(120)
    assert turns.waiting() == 0
    after = _run(turns, "after", log, wait=600)
    after.join(120)
    assert not after.is_alive() and "after" in dict(log)  # the slow one's end left the turn free


def test_a_page_run_that_reruns_gives_its_turn_back():
    from streamlit.runtime.scriptrunner_utils.exceptions import RerunException, StopException

    from webapp.session import resources

    turns = resources.Turns()
    for exc in (RerunException(None), StopException()):  # what st.rerun(), st.switch_page() and st.stop() raise
        with pytest.raises(type(exc)):
            with turns.turn(1):
                raise exc
        assert turns.waiting() == 0
