"""A training worker process: `python -m webapp.worker`, started by webapp.jobs.TrainingJob.

Protocol (pickles, between our own processes only): the job writes one
(data, config, model_spec) tuple to stdin, then any of the lines b"pause\\n",
b"resume\\n" and b"stop\\n". The worker writes ("progress", (done, total)),
("epoch", record, weights), ("paused",) when a pause takes effect (after the epoch
under way) and finally ("done", outcome, error, weights) to its original stdout;
anything printed by libraries goes to stderr so it cannot corrupt that stream.
"""

import copy
import importlib
import os
import pickle
import sys
import threading
import traceback

WORKER_NICENESS = 10


def main():
    # Training is batch work: below the server's priority, so pages stay responsive while it runs.
    os.nice(WORKER_NICENESS)
    out = os.fdopen(os.dup(1), "wb")  # the message stream
    os.dup2(2, 1)  # stray prints now land on stderr
    send = _sender(out)
    try:
        data, config, spec = pickle.load(sys.stdin.buffer)
        stop, go = threading.Event(), threading.Event()
        go.set()
        threading.Thread(target=_watch_stdin, args=(stop, go), daemon=True).start()
        _train(send, stop, go, data, config, spec)
    except Exception as e:  # noqa: BLE001 - reported to the page, never lost
        send(("done", "failed", traceback.format_exception_only(type(e), e)[-1].strip(), None))
    finally:
        out.close()


def _sender(out):
    lock = threading.Lock()

    def send(message):
        with lock:
            pickle.dump(message, out, protocol=pickle.HIGHEST_PROTOCOL)
            out.flush()

    return send


def _watch_stdin(stop, go):
    """Clear `go` on b"pause", set it on b"resume"; set `stop` (and `go`) on b"stop" or when the pipe closes."""
    for line in sys.stdin.buffer:
        command = line.strip()
        if command == b"stop":
            break
        if command == b"pause":
            go.clear()
        elif command == b"resume":
            go.set()
    stop.set()
    go.set()  # a paused run wakes up to stop


def _train(send, stop, go, data, config, spec):
    from mlp import MLP, DivergedError, Trainer

    module, _, function = data[0].partition(":")
    x, y = getattr(importlib.import_module(module), function)(*data[1])
    model = MLP(spec["layer_sizes"], spec["activation"], dropout=spec["dropout"], seed=config.seed, dtype=spec["dtype"])
    model.set_weights(spec["weights"])
    model.meta = copy.deepcopy(spec["meta"])
    trainer = Trainer(model, config, x, y, progress=lambda done, total: send(("progress", (done, total))))
    try:
        for done, record in enumerate(trainer.run(stop), 1):
            send(("epoch", record.to_dict(), model.get_weights()))
            # A pause takes effect between epochs, so no epoch's time includes it. The trainer
            # waits at its yield; after a resume (or a stop) it goes on as if nothing happened.
            if not go.is_set() and done < config.epochs:
                send(("paused",))
                go.wait()
        send(("done", trainer.outcome, None, model.get_weights()))
    except DivergedError as e:
        send(("done", "diverged", str(e), model.get_weights()))


if __name__ == "__main__":
    main()
