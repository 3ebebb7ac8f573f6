"""`kiosk hq console` (serve the console with uvicorn) and `kiosk hq users` (accounts).

Hooked into kiosk/hq/command.py: `add_parsers(sub)` adds both subcommands and `run(args)`
handles them (each opens the database itself; a new one gets its schema, as with `serve`)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

COMMANDS = {"console", "users"}

CONSOLE_HELP = "serve the HQ console (web pages for HQ staff and store managers)"
CONSOLE_EPILOG = """\
Serves the console with uvicorn: members (search by phone, card UID, member id or name; the
member page), the card operations at the counter (挂失 block, 解除 unblock, 补卡 replace, 退卡
return with the ledger's refund preview, adjustment with a reason), fleet, conflicts, rules,
reports, the audit log and users. Pages in zh_CN and English (the switch is on every page).

Sign-in accounts come from `kiosk hq users add` (the first admin) and then from the Users page.
A new database gets HQ's schema, as with `serve`.

Serve it on 127.0.0.1 behind a TLS reverse proxy (nginx, caddy) and pass --behind-https, or
give uvicorn the certificate itself with --ssl-certfile/--ssl-keyfile: either way the session
cookie is then marked Secure. Cookies are always HttpOnly and SameSite=Strict.

--demo builds a demo chain in a temporary folder (deleted when the console stops): the `kiosk
demo` morning's members, a few recent ones on the follow-up lists, and the accounts demo-admin,
demo-finance, demo-s1 (store manager of S1), demo-programme and demo-auditor sharing one random
password printed at the start.

Approval thresholds (adjustments and returns that need a second person) are an admin's setting
on the Approvals page, kept in HQ's settings table.

examples:
  kiosk hq console --demo
  kiosk hq --db /var/lib/kiosk-hq/hq.sqlite3 console --port 8080
  kiosk hq --db "postgresql://hq@db/kiosk" console --host 127.0.0.1 --port 8080 --behind-https

exit status: 0 stopped; 1 the database or the port could not be used; 2 bad usage"""

USERS_HELP = "console accounts: add, list"
USERS_EPILOG = """\
roles: admin (everything), programme-manager (rules, reports, fleet), store-manager (members,
cards, kiosks and reports of the stores given with --store), finance (returns, adjustments,
conflicts, reports), auditor (read-only, audit log, phones masked).

The password is read from stdin (one line) when stdin is not a terminal, else asked twice;
never from the command line (it would stay in the shell history and in `ps`).

examples:
  kiosk hq users add alice --role admin
  printf '%s\\n' "$PASSWORD" | kiosk hq users add bob --role store-manager --store S1 --store S2
  kiosk hq users list"""


def add_parsers(sub) -> None:
    raw = argparse.RawDescriptionHelpFormatter
    console = sub.add_parser("console", help=CONSOLE_HELP, description=CONSOLE_HELP, epilog=CONSOLE_EPILOG,
                             formatter_class=raw)
    console.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    console.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    console.add_argument("--behind-https", action="store_true",
                         help="a TLS proxy in front: mark the session cookie Secure")
    console.add_argument("--ssl-certfile", type=Path, help="serve https directly with this certificate")
    console.add_argument("--ssl-keyfile", type=Path, help="and this key")
    console.add_argument("--demo", action="store_true",
                         help="ignore --db: serve a throw-away demo chain (temp database, the `kiosk demo` members, "
                              "one account per role with a password printed at the start)")

    users = sub.add_parser("users", help=USERS_HELP, description=USERS_HELP, epilog=USERS_EPILOG, formatter_class=raw)
    users_sub = users.add_subparsers(dest="users_command", metavar="USERS_COMMAND")
    add = users_sub.add_parser(
        "add", help="create an account",
        description="Create a console account with a role; the password is read from standard input "
                    "(or asked for at a terminal), never from the command line.",
    )
    add.add_argument("name", help="the account's sign-in name")
    add.add_argument("--role", required=True, help="admin, programme-manager, store-manager, finance or auditor")
    add.add_argument("--store", action="append", default=[], help="a store of a store manager (repeat for several)")
    users_sub.add_parser("list", help="list the accounts",
                         description="List the console accounts with their roles and stores (no password hashes).")


def run(args: argparse.Namespace) -> int:
    from kiosk.hq.db import DatabaseError, open_database
    from kiosk.hq.schema import create_schema

    if args.hq_command == "users" and not args.users_command:
        print("kiosk hq users: choose add or list (kiosk hq users --help)", file=sys.stderr)
        return 2
    if args.hq_command == "console" and bool(args.ssl_certfile) != bool(args.ssl_keyfile):
        print("kiosk hq console: --ssl-certfile and --ssl-keyfile go together", file=sys.stderr)
        return 2
    if args.hq_command == "console" and args.demo:
        return _demo(args)
    try:
        db = open_database(args.db)
        create_schema(db)
    except DatabaseError as exc:
        print(f"kiosk hq: {exc}", file=sys.stderr)
        return 1
    try:
        if args.hq_command == "users":
            return _users(args, db)
    finally:
        db.close()
    return _console(args, args.db)


def _demo(args: argparse.Namespace) -> int:
    import shutil
    import tempfile

    from kiosk.hq.console.demo import ACCOUNTS, make_demo
    from kiosk.hq.notes_key import new_key_text

    folder = Path(tempfile.mkdtemp(prefix="kiosk-hq-console-demo-"))
    try:
        print("kiosk hq console --demo: building the demo chain...", file=sys.stderr)
        path, password = make_demo(folder)
        if not os.environ.get("KIOSK_HQ_NOTES_KEY_FILE"):  # member notes sealed with a key as temporary as the chain
            os.environ.setdefault("KIOSK_HQ_NOTES_KEY", new_key_text().strip())
        print(f"\nDemo console: http://{args.host}:{args.port}/", file=sys.stderr)
        for name, (role, stores) in ACCOUNTS.items():
            print(f"  {name:<16} {role}{' ' + ','.join(stores) if stores else ''}", file=sys.stderr)
        print(f"  password (every account): {password}\n  (a temporary demo: deleted when you stop it)\n",
              file=sys.stderr)
        return _console(args, path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _users(args: argparse.Namespace, db) -> int:
    from kiosk.hq.console import auth

    if args.users_command == "list":
        for user, failures, locked in auth.list_users(db):
            extra = f" locked until {locked}" if locked else ""
            print(f"{user.username:<20} {user.role:<18} {','.join(user.stores):<16} failures {failures}{extra}")
        return 0
    password = _read_password()
    if password is None:
        print("kiosk hq users add: the two passwords differ", file=sys.stderr)
        return 2
    try:
        user = auth.add_user(db, args.name, args.role, password, tuple(args.store), by="cli")
    except auth.AccountError as exc:
        print(f"kiosk hq users add: {exc}", file=sys.stderr)
        return 2
    print(f"user {user.username} added ({user.role}{': ' + ', '.join(user.stores) if user.stores else ''})")
    return 0


def _read_password() -> str | None:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    return first if getpass.getpass("again: ") == first else None


def _console(args: argparse.Namespace, db_url: str) -> int:
    import uvicorn

    from kiosk.hq.console.app import create_app
    from kiosk.hq.db import redact_dsn

    https = bool(args.ssl_certfile) or args.behind_https
    app = create_app(db_url, https=https)
    print(f"kiosk hq console: http{'s' if args.ssl_certfile else ''}://{args.host}:{args.port}/ on {redact_dsn(db_url)}",
          file=sys.stderr)
    config = uvicorn.Config(
        app, host=args.host, port=args.port, log_level="info", access_log=False, server_header=False,
        ssl_certfile=str(args.ssl_certfile) if args.ssl_certfile else None,
        ssl_keyfile=str(args.ssl_keyfile) if args.ssl_keyfile else None,
        proxy_headers=args.behind_https, forwarded_allow_ips="127.0.0.1",
    )
    server = uvicorn.Server(config)
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn stops cleanly on Ctrl-C, then raises it again
        return 0
    except (OSError, SystemExit) as exc:
        print(f"kiosk hq console: {exc}", file=sys.stderr)
        return 1
    return 0
