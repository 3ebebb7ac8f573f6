"""The outbox's bound: money transactions are never dropped, so when the disk is nearly full
(or the outbox is huge) the kiosk stops TAKING new money transactions, and says why."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

MIN_FREE_BYTES = 64 * 1024 * 1024
MAX_OUTBOX = 200_000


@dataclass(frozen=True)
class Admission:
    money_ok: bool
    code: str = ""  # "" | "disk_nearly_full" | "outbox_full"
    en: str = ""
    zh_CN: str = ""

    def message(self, locale: str) -> str:
        return self.zh_CN if locale == "zh_CN" else self.en


OK = Admission(True)


def check_admission(
    data_dir: Path, outbox_depth: int, min_free_bytes: int = MIN_FREE_BYTES, max_outbox: int = MAX_OUTBOX
) -> Admission:
    """May the kiosk take a new money transaction now?"""
    try:
        free = shutil.disk_usage(data_dir).free
    except OSError as exc:
        return Admission(
            False,
            "disk_nearly_full",
            f"Cannot check free space for {data_dir}: {exc.strerror}. Top-ups and payments are paused.",
            f"无法检查存储空间（{exc.strerror}），充值和消费暂停。",
        )
    if free < min_free_bytes:
        return Admission(
            False,
            "disk_nearly_full",
            f"Storage nearly full ({free // (1024 * 1024)} MiB free). Top-ups and payments are paused "
            "until the records are sent to HQ.",
            f"存储空间不足（剩余 {free // (1024 * 1024)} MiB），充值和消费暂停，待记录上传总部后恢复。",
        )
    if outbox_depth >= max_outbox:
        return Admission(
            False,
            "outbox_full",
            f"{outbox_depth} records are waiting to reach HQ. Top-ups and payments are paused until they are sent.",
            f"有 {outbox_depth} 条记录等待上传总部，充值和消费暂停，待上传后恢复。",
        )
    return OK
