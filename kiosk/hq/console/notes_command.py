"""`kiosk hq notes new-key FILE` and `kiosk hq notes rotate-key`: the member-notes key's life.

Rotation seals every note again under a new key in one database transaction, then puts the new
key in the key file's place (os.replace: the file is the old key or the new one, never half).
Interrupted anywhere, running it again finishes it: the new key waits in FILE.new, and notes
already sealed under it are left as they are."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

COMMANDS = {"notes"}

HELP = "member notes: make the key, rotate it"
EPILOG = """\
Member notes are sealed with AES-256-GCM under a key kept apart from the database: a file of
mode 600 named by $KIOSK_HQ_NOTES_KEY_FILE (or --key-file), or the key itself in
$KIOSK_HQ_NOTES_KEY. The console reads it at every page that shows notes.

Rotate the key (a key that may have been seen, a person who knew it left, or once a year):
  kiosk hq --db URL notes rotate-key --key-file /etc/kiosk-hq/notes.key
seals every note again under a new key in one transaction, then replaces the key file with the
new key (the console picks it up at its next page). Keep the backup of the old key until the
database backups made before the rotation have expired: they need it.

examples:
  kiosk hq notes new-key /etc/kiosk-hq/notes.key
  KIOSK_HQ_NOTES_KEY_FILE=/etc/kiosk-hq/notes.key kiosk hq --db URL notes rotate-key

exit status: 0 done; 1 the key or the database could not be used (the message says why); 2 bad usage"""


def add_parser(sub) -> None:
    notes = sub.add_parser("notes", help=HELP, description=HELP, epilog=EPILOG,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    notes_sub = notes.add_subparsers(dest="notes_command", metavar="NOTES_COMMAND")
    new = notes_sub.add_parser("new-key", help="write a new random key to FILE (mode 600)",
                               description="Write a new random member-notes key to FILE, created with mode 600.")
    new.add_argument("file", type=Path, help="the key file to create (it must not exist)")
    rotate = notes_sub.add_parser("rotate-key", help="seal every note again under a new key, then replace the key file",
                                  description="Seal every note again under a new key in one transaction, then "
                                              "replace the key file with it.")
    rotate.add_argument("--key-file", type=Path, default=None,
                        help="the key file in use (default $KIOSK_HQ_NOTES_KEY_FILE)")


def run(args: argparse.Namespace) -> int:
    from kiosk.hq.notes_key import ENV_KEY_FILE, NotesKeyError, new_key_text, write_key_file

    if args.notes_command == "new-key":
        try:
            write_key_file(args.file, new_key_text())
        except FileExistsError:
            print(f"kiosk hq notes: {args.file} exists; a key file is never overwritten", file=sys.stderr)
            return 1
        except OSError as exc:
            print(f"kiosk hq notes: {args.file}: {exc}", file=sys.stderr)
            return 1
        print(f"wrote a new member-notes key to {args.file} (mode 600)")
        return 0
    if args.notes_command != "rotate-key":
        print("kiosk hq notes: choose new-key or rotate-key (kiosk hq notes --help)", file=sys.stderr)
        return 2
    path = args.key_file or (Path(os.environ[ENV_KEY_FILE]) if os.environ.get(ENV_KEY_FILE) else None)
    if path is None:
        print(f"kiosk hq notes rotate-key: the key must be in a file to be replaced: --key-file FILE or "
              f"${ENV_KEY_FILE}", file=sys.stderr)
        return 2
    from kiosk.hq.db import DatabaseError

    try:
        count, old_id, new_id = rotate_key_file(args.db, path)
    except (NotesKeyError, DatabaseError, OSError) as exc:
        print(f"kiosk hq notes rotate-key: {exc}", file=sys.stderr)
        return 1
    print(f"sealed {count} notes again: key {old_id} -> {new_id}, now in {path}")
    return 0


def rotate_key_file(db_url: str, path: Path) -> tuple[int, str, str]:
    """Rotate: (notes sealed again, old key id, new key id)."""
    from kiosk.hq.console import notes
    from kiosk.hq.db import open_database
    from kiosk.hq.notes_key import new_key_text, read_key_file, write_key_file
    from kiosk.hq.schema import create_schema

    old = read_key_file(path)
    db = open_database(db_url, create=False)
    try:
        create_schema(db)
        pending = path.with_name(path.name + ".new")
        if not pending.exists():
            write_key_file(pending, new_key_text())
        new = read_key_file(pending)  # (left by an interrupted rotation: finish with it)
        count = notes.rotate(db, old, new)
    finally:
        db.close()
    os.replace(pending, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return count, old.key_id, new.key_id
