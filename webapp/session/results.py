"""Results computed from a model (an evaluation, a map of the test set, ...), kept per model object. No Streamlit.

A model's results are keyed by the model itself, held weakly: they go when the model does, and a
new model is never handed a collected one's (as an id() reused after garbage collection could;
ReplayCache in webapp.training.replay does the same for runs). A result is computed outside the
lock, once: a caller asking for one being computed waits for it, a caller asking for anything
else goes ahead, so one session's slow computation holds up no other session.
"""

import threading
import weakref
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from webapp.session.budget import array_bytes

__all__ = ["ModelResults"]

T = TypeVar("T")


class ModelResults:
    """Results per (model, what): `what` a hashable label ("embedding", ("evaluation", "mnist"), ...).

    `latest_only` keeps the results of the model last asked about and lets the others go: an
    entry's results, whose model changes with every epoch of its run. Thread-safe.
    """

    def __init__(self, latest_only: bool = False) -> None:
        self.latest_only = latest_only
        self._held: weakref.WeakKeyDictionary[Any, dict[Hashable, Any]] = weakref.WeakKeyDictionary()
        # (model, what) -> (an Event set when its computation ends, the thread computing it)
        self._computing: dict[tuple[Any, Hashable], tuple[threading.Event, int]] = {}
        self._latest: weakref.ref[Any] | None = None  # with latest_only: the model whose results are kept
        self._lock = threading.Lock()

    def get(self, model: object, what: Hashable, compute: Callable[[], T]) -> T:
        """The result kept for (model, what), else compute()'s, kept; compute() runs outside the lock.

        While another caller computes the same (model, what), this one waits and takes its result (or,
        if that computation failed, computes it itself). A compute() that asks for its own result is an error
        (RuntimeError), not a thread waiting for itself.
        """
        key, me = (model, what), threading.get_ident()
        while True:
            with self._lock:
                if self.latest_only and not self._is_latest(model):
                    self._held.clear()
                    self._latest = weakref.ref(model)
                results = self._held.get(model)
                if results is not None and what in results:
                    return results[what]
                if key not in self._computing:
                    under_way = threading.Event()
                    self._computing[key] = (under_way, me)
                    break
                under_way, computing = self._computing[key]
            if computing == me:
                raise RuntimeError(f"the computation of {what!r} asked for its own result")
            under_way.wait()
        try:
            value = compute()
            with self._lock:
                if not self.latest_only or self._is_latest(model):  # (not once a later model was asked about)
                    self._held.setdefault(model, {})[what] = value
            return value
        finally:
            with self._lock:
                del self._computing[key]
            under_way.set()

    def _is_latest(self, model: object) -> bool:
        return self._latest is not None and self._latest() is model

    @property
    def nbytes(self) -> int:
        """Bytes of the NumPy arrays in the results kept (budget.array_bytes of each)."""
        with self._lock:
            kept = [value for results in self._held.values() for value in results.values()]
        return sum(array_bytes(value, depth=1) for value in kept)

    def __len__(self) -> int:
        """How many results are kept."""
        with self._lock:
            return sum(len(results) for results in self._held.values())
