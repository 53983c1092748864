"""Every server setting, in one typed object read from DIGIT_LAB_* environment variables. No Streamlit.

    from webapp.settings import current
    current().max_runs          # DIGIT_LAB_MAX_RUNS, checked (an integer >= 1)

`current()` reads the environment once per process; tests that change a variable call
`current.cache_clear()` (harness.apptest.clear_caches does). A bad value stops the server at
start with pydantic's message naming the variable, never a silent default.

Limits come in layers. Per *client* (one browser: a long-lived cookie, so a reload, a new tab or
a new session is the same client) they are tight; per *address* (a whole class often shares one
public address behind the school's router) they are looser, sized for a class; server-wide
ones bound the total. Behind a reverse proxy, the address is read from X-Forwarded-For only
when the connection comes from one of `trusted_proxies`.
"""

import functools
import ipaddress
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from data import DATASETS
from mlp.hyperparams import MAX_HIDDEN_LAYERS, MAX_HIDDEN_UNITS
from mlp.io import Shape

__all__ = ["MB", "MODEL_SHAPE", "Settings", "current"]

MB = 1024 * 1024
ROOT = Path(__file__).resolve().parent.parent

#: The networks the app takes from a file or the store: its datasets' 28x28 images and ten classes,
#: and no more hidden layers, or wider ones, than Train builds (a wider one would cost every page
#: that reads it, e.g. Inspect's pass over the test set, far more than its weights).
MODEL_SHAPE = Shape(inputs=28 * 28, outputs=10, max_width=MAX_HIDDEN_UNITS, max_hidden=MAX_HIDDEN_LAYERS)
#: Drawings one session may keep, and the store keeps in one collection: enough to teach every digit
#: many times over, few enough to stay a click's work to teach (mlp.adapt refuses more than its own
#: limit, 500).
MAX_DRAWINGS = 200
assert {len(d.class_names) for d in DATASETS.values()} == {MODEL_SHAPE.outputs}, "a dataset of another size"


class Settings(BaseSettings):
    """The server's settings; each field is DIGIT_LAB_<NAME> in the environment (case-insensitive)."""

    model_config = SettingsConfigDict(env_prefix="DIGIT_LAB_", frozen=True, extra="ignore")

    # -- training runs --
    max_runs: int = Field(2, ge=1, description="the embedded engine's worker processes: training epochs that use "
                                               "the CPU at once, across all visitors (runs take turns, an epoch each)")
    engine: str = Field("", description="address of a Dask scheduler (tcp://host:8786) whose workers train; empty: "
                                        "an engine embedded in this server (deploy/ and docs/hosting.md)")
    worker_memory_mb: float = Field(2048, ge=0, description="an embedded worker's memory; past it the worker is "
                                                            "restarted and its run fails with a message (0: no limit)")
    orphan_seconds: int = Field(30, ge=1, description="a run whose tab has been closed this long stops")
    client_runs: int = Field(2, ge=1, description="runs (and teachings) one browser may have training or waiting")
    address_runs: int = Field(40, ge=1, description="runs (and teachings) one address may have training or waiting")
    pretrained: Path = Field(ROOT / "models" / "default.npz", description="the model everyone gets as Pretrained")

    # -- models held in the server's memory --
    max_model_mb: float = Field(
        32, gt=0, description="one model's weights once loaded (parameters x bytes per number): uploads, shared "
                              "links and Train's settings over it are refused")
    max_session_models: int = Field(8, ge=1, description="models one session keeps (oldest finished dropped first)")
    memory_budget_mb: float = Field(
        2048, gt=0, description="all visitors' models together (weights, snapshots, replays, files, runs' states "
                                "between epochs): past it new uploads, links and runs are refused until sessions end")
    client_memory_mb: float = Field(512, gt=0, description="the part of memory_budget_mb one client may hold")
    address_memory_mb: float = Field(1536, gt=0, description="the part of memory_budget_mb one address may hold")
    uploads_mb: float = Field(256, gt=0, description="files being uploaded, all visitors together, as Streamlit "
                                                     "holds them until a page reads them (one per session)")
    address_uploads_mb: float = Field(128, gt=0, description="the part of uploads_mb one address may have in flight")

    # -- the shared store --
    store_url: str = Field("", description="SQLAlchemy URL of the store; empty: data/digit_lab.sqlite")
    store_quota_mb: float = Field(500, gt=0, description="all shared models together, as stored")
    client_store_mb: float = Field(50, gt=0, description="shared models of one client, as stored")
    address_store_mb: float = Field(100, gt=0, description="shared models of one address, as stored (a fifth of the "
                                                           "store: five networks together cannot fill it)")
    store_keep_days: float = Field(
        30, gt=0, description="an unpublished model unopened this long may be removed to make room; published "
                              "models and links opened more recently never are")
    shares_per_hour: int = Field(20, ge=0, description="models one client may share in any hour")
    address_shares_per_hour: int = Field(200, ge=0, description="models one address may share in any hour")
    collections_per_hour: int = Field(20, ge=0, description="new sets of kept drawings per client in any hour")
    address_collections_per_hour: int = Field(200, ge=0, description="new sets of kept drawings per address")
    collections_quota_mb: float = Field(100, gt=0, description="all kept drawings together; least recently used "
                                                               "make room")

    # -- who a visitor is --
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = Field(
        (), description="comma-separated addresses or networks of reverse proxies whose X-Forwarded-For is believed")
    ipv6_prefix: int = Field(56, ge=32, le=128, description="an IPv6 visitor counts as this network (bits) for the "
                                                            "per-address limits: what one customer is usually given")

    @field_validator("engine")
    @classmethod
    def _scheduler_address(cls, value: str) -> str:
        if value and not re.fullmatch(r"(tcp|tls)://[^\s/]+:\d+", value):
            raise ValueError(f"a Dask scheduler's address, like tcp://10.0.0.5:8786, or empty; got {value!r}")
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_networks(cls, value: str | Iterable[str]) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        for part in value:
            ipaddress.ip_network(part, strict=False)  # ValueError names the bad one
        return tuple(value)

    def bytes(self, field: str) -> int:
        """A *_mb setting in bytes."""
        return int(getattr(self, field) * MB)

    def proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """trusted_proxies as ip_network objects."""
        return tuple(ipaddress.ip_network(p, strict=False) for p in self.trusted_proxies)


@functools.cache
def current() -> Settings:
    """The settings from this process's environment, read once (current.cache_clear() reads them again)."""
    return Settings()
