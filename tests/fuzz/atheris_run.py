"""Coverage-guided fuzzing of one target with atheris (libFuzzer for Python).

    .venv/bin/python -m tests.fuzz.atheris_run TARGET RUNS [SEED]

Runs RUNS inputs starting from the target's seeds; an exception outside the target's typed
errors stops the run, prints the input and exits non-zero (libFuzzer's crash report)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["kiosk"]):
    from tests.fuzz.targets import TARGETS


def main(argv: list[str]) -> None:
    name, runs = argv[1], int(argv[2])
    seed = int(argv[3]) if len(argv) > 3 else 1
    target = TARGETS[name]
    corpus = Path(tempfile.mkdtemp(prefix=f"kiosk-corpus-{name}-"))
    for i, data in enumerate(target.seeds()):
        (corpus / f"seed{i}").write_bytes(data)

    def one_input(data: bytes) -> None:
        try:
            target.run(data)
        except target.allowed:
            pass

    atheris.Setup(
        [argv[0], f"-runs={runs}", f"-seed={seed}", "-max_len=4096", "-rss_limit_mb=4096",
         "-print_final_stats=1", f"-artifact_prefix={corpus}/", str(corpus)],
        one_input,
    )
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
