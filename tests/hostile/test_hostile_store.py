"""A hostile visitor against the shared store: one person cannot empty it for the class."""

from contextlib import ExitStack

from visitors import Visitor, server

from harness.pages import settle
from harness.proxy import forwarding_proxy
from mlp import MLP, model_to_bytes


def model_file(seed, hidden=128):
    """A real model file of random weights (about 0.36 MB once deflated for sharing)."""
    return model_to_bytes(MLP([784, hidden, 10], seed=seed))


def test_one_visitor_cannot_empty_the_store_for_others(chromium, store_url):
    limits = dict(store_quota_mb=2.6, client_store_mb=0.9, address_store_mb=1.6, shares_per_hour=50,
                  address_shares_per_hour=50, trusted_proxies="127.0.0.1")
    with server(store_url, **limits) as (proc, url), ExitStack() as proxies:
        via = lambda address: proxies.enter_context(forwarding_proxy(url, address))  # noqa: E731
        # Her class's model, published and shared, from her school's address (the proxy's header).
        her = Visitor(chromium, via("203.0.113.10"))
        her.open()
        her.upload("hers.npz", model_file(0))
        assert "link gets" in her.share()
        link = her.page.url
        her.publish("Her class model", "room-1")

        # The attacker shares model after model, reloading now and then: the same browser is the same client.
        attacker = Visitor(chromium, via("198.51.100.20"))
        attacker.open()
        cookie = attacker.client_cookie()
        said = []
        for i in range(4):
            attacker.upload(f"junk{i}.npz", model_file(100 + i))
            said.append(attacker.share())
            if i % 2:
                attacker.page.reload()
                attacker.open()
        assert attacker.client_cookie() == cookie and cookie
        assert [("link gets" in s) for s in said] == [True, True, False, False], said
        assert "one browser may keep" in said[2]

        # A new client (cookies cleared) from the same network runs into the network's allowance.
        said = []
        for round_ in range(2):
            attacker.context.clear_cookies()
            attacker.open()
            for i in range(3):
                attacker.upload(f"more{round_}{i}.npz", model_file(200 + 10 * round_ + i))
                said.append(attacker.share())
        assert "one network may keep" in said[-1], said
        assert sum("link gets" in s for s in said) == 2, said

        # Another network fills what is left: the store refuses, it removes nothing.
        other = Visitor(chromium, via("198.51.100.99"))
        other.open()
        said = []
        for i in range(2):
            other.upload(f"fill{i}.npz", model_file(300 + i))
            said.append(other.share())
        assert "link gets" in said[0] and "store is full" in said[1], said

        # Her link and her class's board are as they were.
        reader = Visitor(chromium, url)
        page = reader.page
        page.goto(link)
        settle(page)
        assert reader.selected_model().startswith("hers (shared)"), reader.selected_model()
        reader.open("gallery?class=room-1")
        reader.wait_for_text("Her class model")
        for v in (her, attacker, other, reader):
            v.close()
