"""The rules and fleet pages' words in Chinese (its own table beside i18n.ZH, which takes them in: the
section titles and field labels of kiosk/hq/console/rules_form.py are many)."""

from __future__ import annotations

ZH: dict[str, str] = {
    "Export JSON": "导出 JSON",
    "the built-in rules": "内置规则",
    "Sections": "分类",
    "Remove": "删除",
    "new": "新增",
    "Check and review changes": "检查并查看改动",
    "Will be published as version": "将发布为版本",
    "Import JSON": "导入 JSON",
    "Rules each kiosk runs": "各设备运行的规则",
    "Runs": "运行版本",
    "Should run": "应运行版本",
    "Review the changes": "查看改动",
    "Against the rules in force": "对比现行规则",
    "Field": "字段",
    "Nothing changes but the version.": "除版本号外没有改动。",
    "Publish to": "发布到",
    "Only these stores": "仅以下门店",
    "Other stores (comma-separated)": "其他门店（逗号分隔）",
    "Choose at least one store, or publish to the whole chain.": "请至少选择一个门店，或发布到全部门店。",
    # the fleet page
    "A kiosk not heard from for more than this many minutes is flagged silent": "超过此分钟数未联系的设备标记为长时间无联系",
    "the last": "最近", "days": "天", "Reader": "读卡器", "Printer": "打印机", "money paused": "暂停收款",
    "Silent after (minutes)": "无联系标记（分钟）", "Detail": "详情", "No incident.": "没有事件。", "ok": "正常",
    # section titles
    "General": "基本", "Tiers": "会员等级", "Top-up": "充值", "Top-up bonus steps": "充值赠送档位",
    "Rewards": "积分兑换礼品", "Birthday gift": "生日礼", "New member gift": "新会员礼", "PIN": "密码",
    "Offline policy": "离线策略", "Card return": "退卡", "Engagement": "互动奖励", "Segments": "会员分群",
    # field labels
    "Time zone": "时区", "Id": "编号", "Name (中文)": "名称（中文）", "Name (English)": "名称（英文）",
    "Top-ups in 12 months from (fen)": "12个月充值达到（分）", "Points multiplier (%)": "积分倍率（%）",
    "Price paid (%)": "实付比例（%）", "Fen per point": "每积分所需金额（分）", "Points on top-ups": "充值得积分",
    "Points on spending": "消费得积分", "Points expire after (months)": "积分有效期（月）", "From (fen)": "起始金额（分）",
    "Up to (fen)": "最高金额（分）", "Preset amounts (fen, comma-separated)": "预设金额（分，逗号分隔）",
    "Bonus (fen)": "赠送金额（分）", "Points cost": "所需积分", "Stock": "库存", "Valid from": "有效期开始",
    "Valid until": "有效期结束", "Picture file": "图片文件", "Flexible: min points": "灵活兑换：最少积分",
    "Flexible: max points": "灵活兑换：最多积分", "Flexible: step": "灵活兑换：步长",
    "Flexible: fen per point": "灵活兑换：每积分抵（分）", "Gift points": "赠送积分", "Gift balance (fen)": "赠送余额（分）",
    "Window (days either side)": "前后有效天数", "Balance (fen)": "余额（分）", "PIN length": "密码位数",
    "PIN for rewards": "兑换需密码", "PIN for spending above (fen)": "消费超过此金额需密码（分）",
    "Wrong PINs before the lock": "密码错误锁定次数", "Lock (minutes)": "锁定时长（分钟）",
    "Offline limit after (hours)": "离线超过（小时）后限额", "Offline spending per card (fen)": "离线每卡消费限额（分）",
    "Bonus forfeited on return": "退卡时赠送金额作废", "Check-in points": "签到积分", "Streak (days)": "连续签到天数",
    "Streak bonus points": "连续签到奖励积分", "Referrer points": "推荐人积分", "New member's referral points": "被推荐人积分",
    "Survey reasons (comma-separated)": "评价原因（逗号分隔）", "Active within (days)": "活跃（天内）",
    "At risk after (days)": "流失风险（天后）", "Dormant after (days)": "沉睡（天后）",
    # card fees and staff sales rewards
    "Card fees": "会员卡收费", "Free-card campaigns": "免费办卡活动", "Staff sales rewards": "售卡奖励",
    "Staff rewards for top-ups": "储值奖励档位", "Card fee (fen)": "卡费（分）",
    "Waived with a first top-up from (fen)": "首次储值满此金额免卡费（分）", "Replacement fee (fen)": "补卡费（分）",
    "Exchange fee (fen)": "换卡费（分）", "First day (YYYY-MM-DD)": "开始日期（年-月-日）",
    "Last day (YYYY-MM-DD)": "结束日期（年-月-日）", "Reward per card sold (fen)": "每售一张卡奖励（分）",
    "Reward (fen)": "奖励（分）",
}
