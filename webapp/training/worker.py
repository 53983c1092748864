"""A training worker process: `python -m webapp.training.worker`, started by webapp/training/relay.py for a TrainingJob.

Protocol (webapp/training/protocol.py; pickles, between our own processes only): the job writes
one `Start` to stdin, then `Command` lines. The worker writes `Progress`, `Epoch`, `Paused`
(when a pause takes effect, after the epoch under way) and finally `Done` to its original
stdout; anything printed by libraries goes to stderr so it cannot corrupt that stream.
A teach task (Start.config is a Teach) runs mlp.adapt instead of the Trainer.

Nothing here imports numpy at module level: lower_priority() must run before numpy starts its threads.
"""

from __future__ import annotations

import os
import pickle
import sys
import threading
import traceback
from collections.abc import Callable
from typing import IO, TYPE_CHECKING

from webapp.training.protocol import Command, Done, Epoch, JobState, Paused, Progress, Start, Teach

if TYPE_CHECKING:
    from mlp import MLP, TrainConfig, TrainOutcome
    from mlp.adapt import AdaptOutcome

WORKER_NICENESS = 10

Send = Callable[[object], None]


def lower_priority() -> None:
    """Training is batch work: it should never keep the server from answering a page.

    Linux's SCHED_IDLE class runs a thread only on CPU time no other thread wants (at full speed
    when nothing else does), a stronger promise than nice 10, which still gives a worker a small
    share against the server. Called before anything starts a thread (BLAS threads are created
    when numpy is imported): they inherit both.
    """
    os.nice(WORKER_NICENESS)
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):  # not Linux, or not allowed: nice 10 it is
        pass


def main() -> None:
    """Read the job's Start from stdin, run its task, and report on the original stdout."""
    lower_priority()
    out = os.fdopen(os.dup(1), "wb")  # the message stream
    os.dup2(2, 1)  # stray prints now land on stderr
    send = _sender(out)
    try:
        start: Start = pickle.load(sys.stdin.buffer)
        stop, go = threading.Event(), threading.Event()
        go.set()
        threading.Thread(target=_watch_stdin, args=(stop, go), daemon=True).start()
        if isinstance(start.config, Teach):
            _teach(send, stop, start, start.config)
        else:
            _train(send, stop, go, start, start.config)
    except Exception as e:  # noqa: BLE001 - reported to the page, never lost
        send(Done(JobState.FAILED, traceback.format_exception_only(type(e), e)[-1].strip(), None))
    finally:
        out.close()


def _sender(out: IO[bytes]) -> Send:
    lock = threading.Lock()

    def send(message: object) -> None:
        with lock:
            pickle.dump(message, out, protocol=pickle.HIGHEST_PROTOCOL)
            out.flush()

    return send


def _watch_stdin(stop: threading.Event, go: threading.Event) -> None:
    """Clear `go` on PAUSE, set it on RESUME; set `stop` (and `go`) on STOP or when the pipe closes."""
    for line in sys.stdin.buffer:
        try:
            command = Command(line.strip().decode())
        except ValueError:
            continue  # not ours; nothing else writes here
        if command is Command.STOP:
            break
        if command is Command.PAUSE:
            go.clear()
        elif command is Command.RESUME:
            go.set()
    stop.set()
    go.set()  # a paused run wakes up to stop


def rebuild_model(model_bytes: bytes, seed: int) -> MLP:
    """The model in `model_bytes` (a .npz file's content), with dropout masks drawn from `seed`.

    load_model seeds a fresh MLP with 0; building the architecture with the run's seed and
    then setting the weights gives the masks `MLP(..., seed=seed)` gives, so a run in a worker
    trains bit for bit like the same run in-process.
    """
    from mlp import MLP, load_model

    loaded = load_model(model_bytes)
    model = MLP(loaded.layer_sizes, loaded.activation, dropout=loaded.dropout, seed=seed, dtype=loaded.dtype.name)
    model.set_weights(loaded.get_weights())
    model.meta = loaded.meta
    return model


def trained_state(outcome: TrainOutcome) -> JobState:
    """The state a training run ends in, for each way mlp.Trainer's run can end.

    Named one by one, not looked up by value: the two enums share values today, but a JobState
    must never appear because an outcome happens to be spelled like one.
    """
    from mlp import TrainOutcome

    states = {
        TrainOutcome.COMPLETED: JobState.COMPLETED,
        TrainOutcome.STOPPED: JobState.STOPPED,
        TrainOutcome.EARLY_STOPPED: JobState.EARLY_STOPPED,
        TrainOutcome.DIVERGED: JobState.DIVERGED,
    }
    return states[outcome]


def taught_state(outcome: AdaptOutcome) -> JobState:
    """The state a teach run ends in, for each way mlp.adapt can end."""
    from mlp.adapt import AdaptOutcome

    states = {AdaptOutcome.COMPLETED: JobState.COMPLETED, AdaptOutcome.STOPPED: JobState.STOPPED}
    return states[outcome]


def _train(send: Send, stop: threading.Event, go: threading.Event, start: Start, config: TrainConfig) -> None:
    from mlp import DivergedError, Trainer

    x, y = start.data()
    model = rebuild_model(start.model, config.seed)
    trainer = Trainer(model, config, x, y, progress=lambda done, total: send(Progress(done, total)))
    try:
        for done, record in enumerate(trainer.run(stop), 1):
            send(Epoch(record.to_dict(), model.get_weights()))
            # A pause takes effect between epochs, so no epoch's time includes it. The trainer
            # waits at its yield; after a resume (or a stop) it goes on as if nothing happened.
            if not go.is_set() and done < config.epochs:
                send(Paused())
                go.wait()
        assert trainer.outcome is not None  # set when its run ends
        send(Done(trained_state(trainer.outcome), None, model.get_weights()))
    except DivergedError as e:
        send(Done(JobState.DIVERGED, str(e), model.get_weights()))


def _teach(send: Send, stop: threading.Event, start: Start, teach: Teach) -> None:
    """Fine-tune the model on the drawings in `teach`, replaying the training set."""
    from mlp import DivergedError
    from mlp.adapt import AdaptError, adapt, replay_and_check

    train, test = start.data()
    model = rebuild_model(start.model, teach.seed)
    try:
        replay, check = replay_and_check(model, *train)
        result = adapt(model, teach.images, teach.labels, replay=replay, check=check, test=test, config=teach.adapt,
                       seed=teach.seed, progress=lambda done, total: send(Progress(done, total)), stop=stop)
    except (AdaptError, DivergedError) as e:  # the message says what is wrong, as it stands
        send(Done(JobState.DIVERGED if isinstance(e, DivergedError) else JobState.FAILED, str(e), None))
        return
    state = taught_state(result.outcome)
    if result.model is None:  # stopped: nothing was taught
        send(Done(state, None, None))
    else:
        send(Done(state, None, result.model.get_weights(), result.model.meta))


if __name__ == "__main__":
    main()
