"""The server's memory for visitors' models: one budget, shared per client and per address. No Streamlit.

Every model a session holds (uploaded, trained, opened from a link, taught) is registered with
the client and address it belongs to. Its cost is read from the object itself when asked (the
weights of the model and its snapshots, a run's kept epochs, cached results), so it is the real
figure, not an estimate made once. Registration is by weak reference: when a session ends and
its state is dropped, its models leave the budget by themselves.

Before anything new is loaded or trained, `admit` checks that the new cost fits the server's
budget, the client's share and the address's share; a refusal says which, in words a visitor
can act on.
"""

from __future__ import annotations

import dataclasses
import gc
import threading
import weakref
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from webapp.clients import Client

__all__ = ["Budget", "BudgetError", "Usage", "array_bytes"]

MB = 1024 * 1024


class BudgetError(RuntimeError):
    """A new model would not fit in memory; the message suits a visitor."""


class Usage(NamedTuple):
    """Bytes held: in all, by one client, by one address; and how many models."""

    total: int
    client: int
    address: int
    models: int


def array_bytes(value: object, depth: int = 2) -> int:
    """Bytes of the NumPy arrays in `value`: an array, or a list, tuple, dict, NamedTuple or dataclass of them
    (`depth` deep)."""
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int):
        return nbytes
    if depth <= 0:
        return 0
    if dataclasses.is_dataclass(value) and not isinstance(value, type):  # e.g. mlp's Evaluation
        value = [getattr(value, f.name) for f in dataclasses.fields(value)]
    elif isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return sum(array_bytes(v, depth - 1) for v in value)
    return 0


class Budget:
    """Bytes of models held for visitors, in all (`total`), per client and per address (all in bytes); and
    training runs under way (training or waiting for a slot) per client and per address (`runs`: a pair)."""

    def __init__(self, total: float, per_client: float, per_address: float, runs: tuple[int, int] = (2, 40)) -> None:
        self.limits = Usage(int(total), int(per_client), int(per_address), 0)
        self.runs = runs
        # holder (anything with memory_bytes(), maybe busy()) -> (client token, address)
        self._holders: weakref.WeakKeyDictionary[Any, tuple[str, str]] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def track(self, holder: Any, client: Client) -> Any:
        """Count `holder` (anything with a `memory_bytes()` method) against `client` (a webapp.clients.Client)
        for as long as it lives."""
        with self._lock:
            self._holders[holder] = (client.token, client.address)
        return holder

    def usage(self, client: Client | None = None) -> Usage:
        """Usage now; `client` and `address` are that client's (0 without one)."""
        with self._lock:
            holders = list(self._holders.items())
        total = mine = here = 0
        for holder, (token, address) in holders:
            cost = holder.memory_bytes()
            total += cost
            if client is not None:
                mine += cost if token == client.token else 0
                here += cost if address == client.address else 0
        return Usage(total, mine, here, len(holders))

    def admit_run(self, client: Client) -> None:
        """None if `client` may start one more run (or teaching); else BudgetError. Holders count while their
        `busy()` says so (a run training or waiting in line)."""
        with self._lock:
            holders = list(self._holders.items())
        busy = [(token, address) for holder, (token, address) in holders
                if getattr(holder, "busy", None) is not None and holder.busy()]
        mine = sum(token == client.token for token, _ in busy)
        here = sum(address == client.address for _, address in busy)
        if mine >= self.runs[0]:
            raise BudgetError(f"you already have {mine} runs training or waiting for a slot, the most one browser "
                              "may have at once: stop one, or wait for one to finish")
        if here >= self.runs[1]:
            raise BudgetError(f"your network already has {here} runs training or waiting for a slot, the most one "
                              "network may have at once; try again when one has finished")

    def fits(self, cost: int) -> bool:
        """True if `cost` more bytes fit in the whole budget now (a run's worker, about to start; asked often,
        so without admit's garbage collection: the reaper collects as it closes sessions)."""
        return self.usage().total + cost <= self.limits.total

    def admit(self, client: Client | None, cost: int, what: str = "this model") -> None:
        """None if `cost` more bytes fit for `client`; else BudgetError saying which limit it would pass.

        Before refusing, garbage is collected once: a session that ended may still be held in reference
        cycles (Streamlit's session objects refer to each other), which only the collector frees.
        """
        try:
            self._check(client, cost, what)
        except BudgetError:
            gc.collect()
            self._check(client, cost, what)

    def _check(self, client: Client | None, cost: int, what: str) -> None:
        used, limit = self.usage(client), self.limits
        if cost > limit.client:  # never fits, whatever the others hold
            raise BudgetError(f"{what} would take {cost / MB:,.0f} MB of the server's memory, more than the "
                              f"{limit.client / MB:,.0f} MB one browser may use")
        if used.client + cost > limit.client:
            raise BudgetError(f"{what} would take {cost / MB:,.0f} MB of the server's memory, and your models "
                              f"already take {used.client / MB:,.0f} of the {limit.client / MB:,.0f} MB one browser "
                              "may use: remove one of yours (or close another tab of this app) first")
        if used.address + cost > limit.address:
            raise BudgetError(f"{what} would take {cost / MB:,.0f} MB of the server's memory, and the models of "
                              f"your network already take {used.address / MB:,.0f} of the {limit.address / MB:,.0f} "
                              "MB one network may use; try again when others have finished")
        if used.total + cost > limit.total:
            raise BudgetError(f"the server is holding as many models as its memory allows ({used.total / MB:,.0f} of "
                              f"{limit.total / MB:,.0f} MB); try again in a few minutes, when other visitors have left")
