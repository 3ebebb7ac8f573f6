"""Where the soak's kiosk memory goes (KIOSK_SOAK_TRACE=path, tests/sync/kiosk_soak_proc.py): a
thread writes one JSON line every KIOSK_SOAK_TRACE_S seconds (default 10) with the process's VmRSS
beside what can hold it: Python's objects (tracemalloc, and the lines that grew most since the
first sample), SQLite's own allocations (the replica's page caches), glibc's heap (in use and free
but kept), and the events that might bring a step: resends (each reconnect rewinds), acks, checkpoints.

KIOSK_SOAK_TRACE_TRIM=1 also calls glibc's malloc_trim(0) after each sample and notes the RSS
after it: what the heap held free is then given back, and what stays is in use.

It is a tool for reading a run (docs/reliability.md, the soak), not a test: tracemalloc slows the
process and adds its own memory, which `traced_kb` and `tracemalloc_kb` show."""

from __future__ import annotations

import ctypes
import json
import os
import threading
import time
import tracemalloc
from pathlib import Path

from kiosk.ledger.codec import encode

TOP = 8


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


def _libc_heap() -> dict[str, int]:
    """glibc's mallinfo2 in kB: the heap's arenas, mmapped blocks, in use, free but kept."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
        info = libc.mallinfo2()
    except (OSError, AttributeError):
        return {}
    return {"heap_kb": info.arena // 1024, "mmap_kb": info.hblkhd // 1024, "in_use_kb": info.uordblks // 1024,
            "free_kept_kb": info.fordblks // 1024}


def _sqlite_kb() -> int:
    """What SQLite has allocated (every connection of the process), kB; -1 when not known."""
    try:
        lib = ctypes.CDLL("libsqlite3.so.0")
        lib.sqlite3_memory_used.restype = ctypes.c_int64
        return lib.sqlite3_memory_used() // 1024
    except OSError:
        return -1


def _rss_kb() -> int:
    status = Path("/proc/self/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))


def _maps_kb() -> dict[str, int]:
    """Resident kB by kind of mapping: glibc's main heap, anonymous maps (Python's object arenas,
    threads' malloc arenas and stacks), files (code, SQLite's shared memory)."""
    out = {"heap_rss_kb": 0, "anon_rss_kb": 0, "file_rss_kb": 0}
    kind = "anon_rss_kb"
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()
        if "-" in head[0] and len(head) >= 5:
            name = head[5] if len(head) > 5 else ""
            kind = "heap_rss_kb" if name == "[heap]" else "anon_rss_kb" if not name or name.startswith("[") else "file_rss_kb"
        elif head[0] == "Rss:":
            out[kind] += int(head[1])
    return out


def _accounts(ledger, uids: list[str]) -> dict[str, int]:
    """What the pool's accounts hold: the lists that grow with visits, and their stored size."""
    accounts = [found[2] for uid in uids if (found := ledger.state.card_account(uid))]
    return {"topup_records": sum(len(a.recent_topups) for a in accounts),
            "vouchers": sum(len(a.vouchers) for a in accounts), "orders": sum(len(a.orders) for a in accounts),
            "accounts_json_kb": sum(len(json.dumps(encode(a))) for a in accounts) // 1024}


def start_if_asked(client, store, uids: list[str]) -> None:
    """Start the trace when KIOSK_SOAK_TRACE names a file; `uids`: the pool's cards."""
    path = os.environ.get("KIOSK_SOAK_TRACE")
    if not path:
        return
    every = float(os.environ.get("KIOSK_SOAK_TRACE_S", "10"))
    trim = os.environ.get("KIOSK_SOAK_TRACE_TRIM") == "1"  # give glibc's free-but-kept pages back each time
    objects = os.environ.get("KIOSK_SOAK_TRACE_PY", "1") == "1"  # 0: no tracemalloc (it adds memory and time)
    if objects:
        tracemalloc.start()
    first = tracemalloc.take_snapshot() if objects else None
    began = time.monotonic()

    def sample() -> dict:
        traced, _ = tracemalloc.get_traced_memory()
        grown = tracemalloc.take_snapshot().compare_to(first, "lineno")[:TOP] if first else []
        return {
            "t": round(time.monotonic() - began), "rss_kb": _rss_kb(), "traced_kb": traced // 1024,
            "tracemalloc_kb": tracemalloc.get_tracemalloc_memory() // 1024, "sqlite_kb": _sqlite_kb(),
            **_libc_heap(), **_maps_kb(), **_accounts(store.ledger, uids),
            "outbox": store.outbox_depth(), "resends": client.counters.resends, "acked": client.counters.acked,
            "since_checkpoint": store.records_since_checkpoint,
            "grown": [f"{s.size_diff // 1024:+d} kB {s.count_diff:+d} {s.traceback[0].filename.rsplit('/', 2)[-1]}:"
                      f"{s.traceback[0].lineno}" for s in grown],
        }

    def work() -> None:
        with open(path, "a", encoding="utf-8") as out:
            while True:
                line = sample()
                if trim:
                    line["trimmed"] = ctypes.CDLL("libc.so.6").malloc_trim(0)
                    line["rss_trimmed_kb"] = _rss_kb()
                out.write(json.dumps(line) + "\n")
                out.flush()
                time.sleep(every)

    threading.Thread(target=work, name="soak-trace", daemon=True).start()
