"""What the technician tells `kiosk provision`: from flags, an answers file, the config already
on the device (a re-run keeps what it does not change) and, last, interactive prompts."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from kiosk.app.config import LOCALES, READER_DRIVERS, ROTATIONS, SCREENS, Config


class AnswersError(ValueError):
    """An answer that is missing or of the wrong kind, named by its flag."""


@dataclass(frozen=True)
class Answers:
    device_id: str = ""
    store_id: str = ""
    data_dir: str = "/var/lib/kiosk"
    hq_host: str = ""
    hq_port: int = 0  # 0: 8883 with TLS, 1883 without
    tls_ca: str = ""  # files to import; empty keeps what is installed
    tls_cert: str = ""
    tls_key: str = ""
    reader_driver: str = ""
    reader_port: str = ""
    card_master_key: str = ""
    pin_pepper: str = ""
    card_system_id: str = "kiosk"
    locale: str = "zh_CN"
    screen: str = "800x480"
    rotation: int = 0
    rules_file: str = ""
    role: str = "kiosk"  # "counter": the device at the cash desk (docs/pos-api.md)
    till_port: int = 0  # the till API on the store's LAN at this port, HTTPS on the kiosk's certificate; 0: off


FILE_ANSWERS = ("tls_ca", "tls_cert", "tls_key", "card_master_key", "pin_pepper", "rules_file")
NAMES = tuple(f.name for f in fields(Answers))


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def from_mapping(data: dict[str, Any], origin: str, base: Path | None = None) -> dict[str, Any]:
    """Answers given as a mapping (an answers file), checked for unknown names and types."""
    types = {f.name: f.type for f in fields(Answers)}
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key not in types:
            raise AnswersError(f"{origin}: {key}: unknown answer (expected one of {list(NAMES)})")
        want = int if types[key] in (int, "int") else str
        if isinstance(value, bool) or not isinstance(value, want):
            raise AnswersError(f"{origin}: {key}: must be {want.__name__}")
        if key in FILE_ANSWERS and value and base is not None:
            value = str((base / value).resolve()) if not Path(value).is_absolute() else value
        out[key] = value
    return out


def load_answers_file(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(Path(path).read_text("utf-8"))
    except FileNotFoundError:
        raise AnswersError(f"{path}: answers file not found") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise AnswersError(f"{path}: not valid TOML: {exc}") from None
    return from_mapping(data, str(path), Path(path).resolve().parent)


def from_config(config: Config) -> dict[str, Any]:
    """The answers an existing configuration already gave (file imports stay installed)."""
    out: dict[str, Any] = {
        "device_id": config.device.id,
        "store_id": config.device.store,
        "data_dir": str(config.device.data_dir),
        "locale": config.device.locale,
        "screen": config.device.screen,
        "rotation": config.device.rotation,
        "reader_driver": config.reader.driver,
        "reader_port": config.reader.port,
        "hq_host": config.hq.host,
        "card_system_id": config.secrets.card_system_id,
    }
    if config.hq.host:
        out["hq_port"] = config.hq.port
    if config.rules_file:
        out["rules_file"] = str(config.rules_file)
    out["role"] = config.device.role
    if config.till.enabled:
        out["till_port"] = config.till.port
    return out


def merge(*layers: dict[str, Any]) -> Answers:
    """Later layers win; a layer's None means "not given"."""
    values: dict[str, Any] = {}
    for layer in layers:
        values.update({k: v for k, v in layer.items() if v is not None})
    return replace(Answers(), **values)


PROMPTS: dict[str, tuple[str, str]] = {
    "device_id": ("Device id", "设备编号"),
    "store_id": ("Store id", "门店编号"),
    "hq_host": ("HQ MQTT broker host (empty: standalone)", "总部 MQTT 服务器地址（留空：单机）"),
    "tls_ca": ("HQ CA certificate file (empty: keep / none)", "总部 CA 证书文件"),
    "tls_cert": ("Client certificate file (empty: make a key and a CSR)", "客户端证书文件"),
    "card_master_key": ("Card master key file", "卡片主密钥文件"),
    "locale": (f"Language {LOCALES}", "界面语言"),
    "screen": (f"Screen size {SCREENS}", "屏幕尺寸"),
    "rotation": (f"Screen rotation {ROTATIONS}", "屏幕旋转"),
}


def ask(answers: Answers, candidates: list, read: Callable[[str], str],
        write: Callable[[str], None], only: tuple[str, ...] | None = None) -> Answers:
    """Prompt for each answer (showing the current value as the default)."""
    values: dict[str, Any] = {}
    for name in only or tuple(PROMPTS) + ("reader",):
        if name == "reader":
            values.update(_ask_reader(answers, candidates, read, write))
            continue
        en, zh = PROMPTS[name]
        current = getattr(answers, name)
        typed = read(f"{en} / {zh} [{current}]: ").strip()
        if typed:
            values[name] = int(typed) if name == "rotation" and typed.isdigit() else typed
    return replace(answers, **values)


def _ask_reader(answers: Answers, candidates: list, read, write) -> dict[str, Any]:
    write("Readers found / 检测到的读卡器:")
    for i, c in enumerate(candidates, 1):
        write(f"  {i}) {c.driver:<9} {c.port:<22} {c.description}")
    write(f"  s) simulated (no hardware) / 模拟读卡器   [current: {answers.reader_driver or '-'} "
          f"{answers.reader_port}]")
    typed = read("Reader / 读卡器 [number, s, or driver:port]: ").strip()
    if not typed:
        return {}
    if typed == "s":
        return {"reader_driver": "simulated", "reader_port": ""}
    if typed.isdigit() and 1 <= int(typed) <= len(candidates):
        c = candidates[int(typed) - 1]
        return {"reader_driver": c.driver, "reader_port": c.port}
    driver, _, port = typed.partition(":")
    if driver not in READER_DRIVERS:
        write(f"  unknown driver {driver!r}; expected one of {READER_DRIVERS}")
        return _ask_reader(answers, candidates, read, write)
    return {"reader_driver": driver, "reader_port": port}
