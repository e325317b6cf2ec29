"""What the report calls each code, in Chinese (the report's language) and in English (chart labels when no
Chinese font is installed). Codes without a label are shown as they are."""

from __future__ import annotations

from dataclasses import dataclass, field

CHANNELS_ZH = {"call": "电话", "sms": "短信", "push": "推送"}
CHANNELS_EN = {"call": "phone", "sms": "SMS", "push": "push"}

DIMENSIONS_ZH = {
    "overall": "整体",
    "reason": "流失原因",
    "tier": "会员等级",
    "channel": "渠道",
    "channel_group": "渠道组合",
    "offer": "权益/优惠",
    "wave": "批次",
}
DIMENSIONS_EN = {"channel_group": "channel group", "wave": "wave"}

REASONS_ZH = {
    "competitor": "转投竞品",
    "no_longer_needed": "不再需要",
    "open_complaint": "投诉未结",
    "frequency_drop": "消费频次下降",
    "no_login": "长期未登录",
    "overdue": "超期未复购",
}

ARMS_ZH = {"treated": "触达组", "holdout": "对照组"}

KPIS_ZH = {
    "core_repurchase_rate": "核心会员复购率",
    "dormant_wake_up_rate": "沉睡会员唤醒率",
    "touch_open_rate": "触达打开率",
    "unsubscribe_rate": "退订率",
    "churn_rate": "流失率",
    "top_member_revenue_share": "头部会员收入占比",
    "tier_share_basic": "基础会员占比",
    "tier_share_advanced": "进阶会员占比",
    "tier_share_premium": "尊享会员占比",
}


@dataclass(frozen=True)
class Labels:
    """Labels of one report: Chinese unless `chinese` is False; tier and offer names come from the warehouse."""

    chinese: bool = True
    tier_names_zh: dict[str, str] = field(default_factory=dict)
    offer_names: dict[str, str] = field(default_factory=dict)

    def tier_rank(self) -> dict[str, int]:
        """Tier codes by rank (basic first), as main.tiers orders them."""
        return {code: rank for rank, code in enumerate(self.tier_names_zh)}

    def channel(self, code: str) -> str:
        return (CHANNELS_ZH if self.chinese else CHANNELS_EN).get(code, code)

    def channel_group(self, code: str) -> str:
        return "+".join(self.channel(part) for part in code.split("+"))

    def tier(self, code: str) -> str:
        return self.tier_names_zh.get(code, code) if self.chinese else code

    def offer(self, code: str) -> str:
        return self.offer_names.get(code, code) if self.chinese else code

    def reason(self, code: str) -> str:
        return REASONS_ZH.get(code, code) if self.chinese else code.replace("_", " ")

    def dimension(self, code: str) -> str:
        return (DIMENSIONS_ZH if self.chinese else DIMENSIONS_EN).get(code, code)

    def arm(self, code: str) -> str:
        return ARMS_ZH.get(code, code) if self.chinese else code

    def kpi(self, code: str) -> str:
        return KPIS_ZH.get(code, code) if self.chinese else code.replace("_", " ")

    def value(self, dimension: str, code: str | None) -> str:
        """A dimension value (a tier code, a channel group...) as shown."""
        if code is None:
            return "–"
        show = {
            "tier": self.tier,
            "channel": self.channel,
            "channel_group": self.channel_group,
            "offer": self.offer,
            "reason": self.reason,
        }.get(dimension)
        return show(code) if show else code

    def text(self, chinese: str, english: str) -> str:
        return chinese if self.chinese else english
