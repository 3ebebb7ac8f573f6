"""`python -m kiosk.hq ...` = `kiosk hq ...` (the systemd unit and the tests' subprocesses use it)."""

import argparse
import sys

from kiosk.hq import command

parser = argparse.ArgumentParser(
    prog="kiosk hq", description=command.DESCRIPTION, epilog=command.EPILOG,
    formatter_class=argparse.RawDescriptionHelpFormatter,
)
command.add_arguments(parser)
sys.exit(command.run(parser.parse_args()))
