"""The server's settings: one typed object read from DIGIT_LAB_* variables (webapp.settings)."""

import ipaddress

import pytest
from pydantic import ValidationError

from webapp.settings import MB, ROOT, Settings, current


def test_defaults_and_the_environment(monkeypatch):
    s = Settings()
    assert s.max_runs == 2 and s.max_session_models == 8 and s.pretrained == ROOT / "models" / "default.npz"
    assert s.bytes("store_quota_mb") == 500 * MB and s.trusted_proxies == ()
    monkeypatch.setenv("DIGIT_LAB_STORE_QUOTA_MB", "1.5")
    monkeypatch.setenv("digit_lab_shares_per_hour", "5")  # names are not case-sensitive
    monkeypatch.setenv("DIGIT_LAB_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8,::1")
    s = Settings()
    assert s.bytes("store_quota_mb") == int(1.5 * MB) and s.shares_per_hour == 5
    assert s.proxy_networks() == (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8"),
                                  ipaddress.ip_network("::1/128"))


@pytest.mark.parametrize("name,value,message", [
    ("DIGIT_LAB_MAX_RUNS", "0", "greater than or equal to 1"),
    ("DIGIT_LAB_MAX_RUNS", "two", "valid integer"),
    ("DIGIT_LAB_STORE_QUOTA_MB", "-1", "greater than 0"),
    ("DIGIT_LAB_MAX_MODEL_MB", "lots", "valid number"),
    ("DIGIT_LAB_TRUSTED_PROXIES", "10.0.0.0/8, not-an-address", "does not appear to be an IPv4 or IPv6"),
    ("DIGIT_LAB_ENGINE", "10.0.0.5:8786", "like tcp://10.0.0.5:8786"),
    ("DIGIT_LAB_ENGINE", "http://evil.example/x", "a Dask scheduler's address"),
    ("DIGIT_LAB_WORKER_MEMORY_MB", "-5", "greater than or equal to 0"),
])
def test_a_bad_value_stops_the_server_naming_the_setting(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=message) as refused:
        Settings()
    assert name.removeprefix("DIGIT_LAB_").lower() in str(refused.value)


def test_current_reads_the_environment_once(monkeypatch):
    current.cache_clear()
    try:
        first = current()
        monkeypatch.setenv("DIGIT_LAB_MAX_RUNS", "5")
        assert current() is first and current().max_runs == first.max_runs
        current.cache_clear()
        assert current().max_runs == 5
    finally:
        current.cache_clear()


def test_every_setting_is_in_hostings_table_with_its_default():
    """docs/hosting.md's table lists each DIGIT_LAB_ variable with the default the settings object has."""
    import re
    from pathlib import Path

    from webapp.settings import Settings

    table = Path(__file__).resolve().parents[2].joinpath("docs", "hosting.md").read_text()
    rows = dict(re.findall(r"^\| `(DIGIT_LAB_[A-Z0-9_]+)` \| ([^|]+) \|", table, re.M))
    for name, field in Settings.model_fields.items():
        variable = f"DIGIT_LAB_{name.upper()}"
        assert variable in rows, f"{variable} is not in docs/hosting.md's table"
        default = field.default
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            assert rows[variable].strip() == f"{default:g}", (variable, rows[variable], default)
