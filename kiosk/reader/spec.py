"""What the rest of the kiosk knows about a reader driver without opening it: its capability
row and its registry entry (how a configured port becomes a reader, which device node it
opens, what the Pi must enable for it). Each driver module declares its own DRIVER; the list
of them is kiosk.reader.drivers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kiosk.reader.base import Reader


@dataclass(frozen=True)
class Capabilities:
    """What one driver can do; the contract suite tests exactly this, and expects
    NotSupported for what a driver says it cannot."""

    classic: bool = True  # MIFARE Classic (crypto1 in the reader chip)
    ntag: bool = True  # NTAG21x / Ultralight READ, WRITE, PWD_AUTH
    originality: bool = True  # READ_SIG
    counter: bool = True  # READ_CNT
    iso_dep: bool = True  # APDUs to ISO 14443-4 cards (NTAG 424 DNA)
    firmware_without_card: bool = True  # firmware() answers with no card on the reader
    sees_swap: bool = True  # a card swapped for another without a lift reads as a removal


def _no_node(port: str) -> str | None:
    return None


def _nothing(port: str) -> tuple[str, ...]:
    return ()


@dataclass(frozen=True)
class DriverSpec:
    """One reader driver as configuration, provisioning and the doctor see it.

    `build(port)` makes the (unopened) reader for `[reader] port`; its hardware library is
    imported only when the reader opens. `device_node(port)` is the /dev node it opens (None:
    reached another way, e.g. USB or a daemon); `device_allow(port)` the systemd DeviceAllow=
    lines beyond that node; `interfaces(port)` what raspi-config must enable ("spi", "uart");
    `enable_hint` the doctor's fix when the node is missing; `service_socket` a daemon's
    socket the reader goes through (the doctor checks it is there)."""

    name: str
    build: Callable[[str], Reader]
    capabilities: Capabilities
    port_help: str
    device_node: Callable[[str], str | None] = _no_node
    device_allow: Callable[[str], tuple[str, ...]] = _nothing
    interfaces: Callable[[str], tuple[str, ...]] = _nothing
    enable_hint: str = ""
    service_socket: str = ""
    service_hint: str = ""
