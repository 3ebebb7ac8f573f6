"""A quick first pass of mutation testing: a few test modules run once per mutant, in one process.

`mutmut run` gives each mutant every test that calls the mutated function; for a rules parser or
LedgerState's voucher checks that is nearly the whole selection (300-390 tests, 6-20 s a mutant
on a busy 2-core machine), and a survivor always pays it all. Here pytest runs in-process with
MUTANT_UNDER_TEST set (mutmut's trampolines read it at every call), so a mutant costs about
a second against the module written for that rule code. A kill here is a kill (the module is in
the selection); what survives is only a candidate: confirm it with `mutmut run NAME...`, which
runs the full selection, before calling it a survivor or an equivalent.

After a `mutmut run` has created mutants/ (copy any changed test module into mutants/tests):

    cd mutants && ../.venv/bin/python ../scripts/mutants_scan.py NAMES_FILE tests/test_x.py ...

NAMES_FILE holds one mutant name a line (`grep -o` them from mutants/kiosk/...). Prints
"killed NAME" or "SURVIVES NAME" for each. The test modules are imported once, first with no
mutant active, as mutmut's fork server does, and must pass then."""

from __future__ import annotations

import contextlib
import io
import os
import sys

import pytest


def run(mutant: str, tests: list[str]) -> tuple[int, str]:
    """pytest's exit code and output for the tests with `mutant` active ("" = none)."""
    os.environ["MUTANT_UNDER_TEST"] = mutant
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = pytest.main(["-x", "-q", "--tb=no", "-p", "no:cacheprovider", "-p", "no:randomly", *tests])
    return int(code), out.getvalue()


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__)
        return 2
    with open(argv[0], encoding="utf-8") as names_file:
        names = [n.strip() for n in names_file if n.strip() and not n.strip().endswith("__mutmut_")]
    tests = argv[1:]
    code, out = run("", tests)
    if code != 0:
        print(out[-4000:])
        print("the tests fail with no mutant active: nothing to measure")
        return 1
    for name in names:
        code, _ = run(name, tests)
        print(f"{'SURVIVES' if code == 0 else 'killed'} {name}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
