"""Moderate the shared store from a shell: what is in it, and take things out.

    python -m webapp.store usage
    python -m webapp.store list [--published | --unpublished] [--class CODE] [--owner TOKEN] [--address ADDR]
    python -m webapp.store hide ID ...          # out of the gallery (the link still works)
    python -m webapp.store show ID ...          # back into the gallery
    python -m webapp.store remove ID ...        # gone: the link says the model is not available
    python -m webapp.store remove --owner TOKEN --yes      # everything one browser shared
    python -m webapp.store remove --address ADDR --yes     # everything from one network
    python -m webapp.store migrate              # bring the database to the current schema

It reads the same settings as the server (DIGIT_LAB_STORE_URL; default data/digit_lab.sqlite).
Names come from visitors: they are printed with anything unprintable escaped.
"""

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TextIO

from webapp.clients import address_key
from webapp.settings import current
from webapp.store.checks import StoreError
from webapp.store.core import Store
from webapp.store.engine import create_engine, store_url

MB = 1024 * 1024


def printable(value: object) -> str:
    """`value` as one line a terminal shows as it is: control and formatting characters escaped."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in str(value))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m webapp.store", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("usage", help="how much the store holds")
    listing = sub.add_parser("list", help="shared models and kept drawings, newest first")
    shown = listing.add_mutually_exclusive_group()
    shown.add_argument("--published", action="store_true", help="only models in the gallery")
    shown.add_argument("--unpublished", action="store_true", help="only models shared by link alone")
    listing.add_argument("--class", dest="class_code", help="only this class's models")
    listing.add_argument("--owner", help="only what this client token shared")
    listing.add_argument("--address", help="only what came from this address (an IPv6 one counts as its network, "
                                           "DIGIT_LAB_IPV6_PREFIX bits: any address in it, or the network, will do)")
    listing.add_argument("--limit", type=int, default=200)
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    for name, text in (("hide", "take models out of the gallery"), ("show", "put models back in the gallery")):
        sub.add_parser(name, help=text).add_argument("ids", nargs="+")
    remove = sub.add_parser("remove", help="delete models and kept drawings")
    remove.add_argument("ids", nargs="*")
    remove.add_argument("--owner", help="everything this client token shared")
    remove.add_argument("--address", help="everything that came from this address")
    remove.add_argument("--yes", action="store_true", help="needed with --owner or --address")
    sub.add_parser("migrate", help="bring the database to the current schema")
    return p


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    args = _parser().parse_args(argv)
    if getattr(args, "address", None) is not None:  # as the store keeps it: an IPv6 address as its network
        try:
            args.address = address_key(args.address.strip(), current().ipv6_prefix)
        except ValueError:
            print(f"error: --address {printable(args.address)!r} is not an IP address or network", file=sys.stderr)
            return 2
    store = Store(create_engine(store_url()))
    try:
        if args.command == "migrate":
            print(f"schema at revision {store.migrate()}", file=out)
            return 0
        store.migrate()
        return _run(store, args, out)
    except StoreError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    finally:
        store.engine.dispose()


def _run(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    if args.command == "usage":
        u = store.usage()
        print(f"models: {u['models'][0]} ({u['models'][1] / MB:.1f} MB), {u['published']} published; "
              f"kept drawings: {u['collections'][0]} sets ({u['collections'][1] / MB:.1f} MB)", file=out)
        return 0
    if args.command == "list":
        published = True if args.published else False if args.unpublished else None
        for row in store.items(published=published, class_code=args.class_code, owner=args.owner,
                               address=args.address, limit=args.limit):
            if args.json:
                print(json.dumps({k: v for k, v in row.items() if k != "summary"}, default=str), file=out)
                continue
            what = (f"model  {'published' if row['published'] else 'link only'}"
                    f"{' class ' + row['class_code'] if row['class_code'] else ''}  {printable(row['name'])!s}"
                    if row["kind"] == "model" else f"drawings  {row['count']}")
            print(f"{row['id']}  {row['created_at']:%Y-%m-%d %H:%M}  {row['size'] / 1024:8.1f} KB  "
                  f"owner {printable(row['owner'])}  address {row['address'] or '-'}  {what}", file=out)
        return 0
    if args.command in ("hide", "show"):
        missing = [i for i in args.ids if not store.set_published(i, args.command == "show")]
        print(f"{len(args.ids) - len(missing)} changed" + (f"; not found: {' '.join(missing)}" if missing else ""),
              file=out)
        return 1 if missing else 0
    removed = store.remove(args.ids)
    for column in ("owner", "address"):
        value = getattr(args, column)
        if value is None:
            continue
        if not args.yes:
            print(f"error: removing everything of one {column} needs --yes", file=sys.stderr)
            return 2
        while batch := [r["id"] for r in store.items(**{column: value})]:
            removed += store.remove(batch)
    print(f"{removed} removed", file=out)
    if removed == 0:
        print("warning: nothing matched: check the ids, token or address (`list` shows them in full)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
