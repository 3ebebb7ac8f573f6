"""The ports tests and the demo give their servers lie below the kernel's ephemeral range, so a
client reconnecting to a stopped server can never be given that port as its own source port and
connect to itself (which held a test broker's port and made its restart fail)."""

from __future__ import annotations

import socket
from pathlib import Path

from kiosk.sync.local_broker import PORTS_FROM, free_port


def test_free_ports_are_below_the_ephemeral_range_and_free():
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = {free_port() for _ in range(50)}
    assert all(PORTS_FROM <= p < low for p in ports), sorted(ports)
    assert len(ports) > 1  # not one fixed port for every server
    for port in list(ports)[:5]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))
