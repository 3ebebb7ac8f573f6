"""The sync part of `kiosk demo`: the morning's transactions travel to HQ and a card HQ reports
lost is refused at the kiosk — through a private Mosquitto, the real HQ receiver (SQLite) and
the kiosk's real sync client, all started here on 127.0.0.1 and stopped at the end.

    from kiosk.demo.sync import run_sync_demo
    code = run_sync_demo(store, workdir)    # 0: everything arrived and the lost card was refused

Needs the `mosquitto` binary (scripts/setup.sh installs it); without it the part says so and is
skipped."""

from __future__ import annotations

from pathlib import Path

STORE_ID = "SH-001"


def run_sync_demo(store, workdir: Path, timeout_s: float = 30.0, lang: str = "en") -> int:
    """Drain `store`'s outbox to a demo HQ, then block one of its cards at HQ and show the
    kiosk refusing it. Returns 0 when both happened, 1 otherwise (the output says what)."""
    from kiosk.hq import admin
    from kiosk.hq.devices import list_devices
    from kiosk.hq.embedded import start_receiver
    from kiosk.hq.ledger import event_counts, list_conflicts
    from kiosk.ledger.model import CardStatus
    from kiosk.sync import local_broker
    from kiosk.sync.client import SyncClient, SyncSettings

    def t(zh: str, en: str) -> str:
        return zh if lang == "zh_CN" else en

    print(t("\n同步到总部", "\nSync with headquarters"))
    if not local_broker.available():
        print(t("  （跳过：未安装 mosquitto，请运行 scripts/setup.sh）",
                "  (skipped: mosquitto is not installed; run scripts/setup.sh)"))
        return 0
    device = store.device_id
    workdir = Path(workdir)
    broker = local_broker.MosquittoBroker(
        workdir / "mosquitto", devices=((STORE_ID, device),), bind_client_ids=True
    ).start()
    try:
        with start_receiver(workdir / "hq.sqlite3", broker.host, broker.hq_port, "hq", broker.password("hq")) as hq:
            settings = SyncSettings(
                store_id=STORE_ID,
                device_id=device,
                host=broker.host,
                port=broker.port,
                password=broker.password(device),
                data_dir=store.data_dir,
                heartbeat_s=1.0,
            )
            sync = SyncClient(store, settings)
            waiting = store.outbox_depth()
            print(t(f"  自助机 {device} 连接总部，待上传 {waiting} 笔",
                    f"  kiosk {device} connects to HQ with {waiting} transactions waiting"))
            sync.start()
            try:
                if not sync.wait_until(lambda: store.outbox_depth() == 0, timeout_s):
                    print(t(f"  ✗ 未在 {timeout_s:g} 秒内上传完：{sync.status()}",
                            f"  ✗ not everything reached HQ within {timeout_s:g} s: {sync.status()}"))
                    return 1
                stored, highest, applied = event_counts(hq.admin_db).get(device, (0, 0, 0))
                print(t(f"  ✓ 总部已确认 {stored} 笔交易（各一次、按顺序，到第 {highest} 笔），自助机待上传 0 笔",
                        f"  ✓ HQ committed {stored} transactions (once each, in order, up to no. {applied}); "
                        "none left waiting"))
                conflicts = list_conflicts(hq.admin_db)
                print(t(f"    账目冲突：{len(conflicts)}", f"    conflicting balances found: {len(conflicts)}"))
                lost = next(
                    (uid for uid, card in store.ledger.state.cards.items() if card.status is CardStatus.ACTIVE), ""
                )
                if not lost:
                    print(t("  （没有可挂失的卡）", "  (no active card to block)"))
                    return 0
                admin.block_card(hq.admin_db, lost, "demo: reported lost at HQ")
                print(t(f"  会员打电话到总部挂失卡 {lost}", f"  the member phones HQ: card {lost} is blocked as lost"))
                if not sync.wait_until(lambda: sync.blocked.is_blocked(lost), timeout_s):
                    print(t("  ✗ 自助机未收到挂失名单", "  ✗ the kiosk did not receive the lost-card list"))
                    return 1
                print(t("  自助机几秒内收到挂失名单", "  the kiosk receives the lost-card list within seconds"))
                print(t(f"  有人刷卡 {lost} → 拒绝：此卡已挂失", f"  someone taps card {lost} → refused: card reported lost"))
                sync.wait_until(lambda: False, 1.2)  # one heartbeat, so HQ's device list is current
                for row in list_devices(hq.admin_db, STORE_ID):
                    state = t("在线", "online") if row.online else t("离线", "offline")
                    print(t(f"  总部看到自助机 {row.device_id}：{state}，待上传 {row.outbox_depth} 笔",
                            f"  HQ sees kiosk {row.device_id}: {state}, {row.outbox_depth} waiting"))
                return 0
            finally:
                sync.stop()
    finally:
        broker.kill()
