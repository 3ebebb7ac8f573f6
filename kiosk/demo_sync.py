"""The sync part of `kiosk demo`: the morning's transactions travel to HQ and a card HQ reports
lost is refused at the kiosk — through a private Mosquitto, the real HQ receiver (SQLite) and
the kiosk's real sync client, all started here on 127.0.0.1 and stopped at the end.

    from kiosk.demo_sync import run_sync_demo
    code = run_sync_demo(store, workdir)    # 0: everything arrived and the lost card was refused

Needs the `mosquitto` binary (scripts/setup.sh installs it); without it the part says so and is
skipped."""

from __future__ import annotations

from pathlib import Path

STORE_ID = "SH-001"


def run_sync_demo(store, workdir: Path, timeout_s: float = 30.0) -> int:
    """Drain `store`'s outbox to a demo HQ, then block one of its cards at HQ and show the
    kiosk refusing it. Returns 0 when both happened, 1 otherwise (the output says what)."""
    from kiosk.hq import admin
    from kiosk.hq.devices import list_devices
    from kiosk.hq.embedded import start_receiver
    from kiosk.hq.ledger import event_counts, list_conflicts
    from kiosk.ledger.model import CardStatus
    from kiosk.sync import local_broker
    from kiosk.sync.client import SyncClient, SyncSettings

    print("\n同步到总部 / Sync with headquarters")
    if not local_broker.available():
        print("  (跳过：未安装 mosquitto / skipped: mosquitto is not installed; run scripts/setup.sh)")
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
            print(f"  自助机 {device} 连接总部，待上传 {waiting} 笔 / kiosk {device} connects, {waiting} waiting")
            sync.start()
            try:
                if not sync.wait_until(lambda: store.outbox_depth() == 0, timeout_s):
                    print(f"  ✗ 未在 {timeout_s:g} 秒内上传完 / outbox not drained: {sync.status()}")
                    return 1
                stored, highest, applied = event_counts(hq.admin_db).get(device, (0, 0, 0))
                print(
                    f"  ✓ 总部已确认 {stored} 笔交易（各一次、按顺序，最高序号 {highest}），自助机待上传 0 笔\n"
                    f"    HQ committed {stored} transactions (once each, in order, up to seq {applied}); outbox now 0"
                )
                conflicts = list_conflicts(hq.admin_db)
                print(f"    冲突 conflicts reported: {len(conflicts)}")
                lost = next(
                    (uid for uid, card in store.ledger.state.cards.items() if card.status is CardStatus.ACTIVE), ""
                )
                if not lost:
                    print("  (没有可挂失的卡 / no active card to block)")
                    return 0
                admin.block_card(hq.admin_db, lost, "demo: reported lost at HQ")
                print(f"  总部挂失卡 {lost} / HQ blocks card {lost} (reported lost)")
                if not sync.wait_until(lambda: sync.blocked.is_blocked(lost), timeout_s):
                    print("  ✗ 自助机未收到挂失名单 / the kiosk did not receive the blocked list")
                    return 1
                print(f"  自助机收到挂失名单 v{sync.blocked.version} / kiosk received blocked list v{sync.blocked.version}")
                print(f"  刷卡 {lost} → 拒绝：此卡已挂失 / card {lost} tapped → refused: card reported lost")
                sync.wait_until(lambda: False, 1.2)  # one heartbeat, so HQ's device list is current
                for row in list_devices(hq.admin_db, STORE_ID):
                    state = "在线 online" if row.online else "离线 offline"
                    print(f"  总部设备列表 HQ devices: {row.device_id} {state}, 待上传 outbox {row.outbox_depth}")
                return 0
            finally:
                sync.stop()
    finally:
        broker.kill()
