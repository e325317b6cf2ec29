"""The landing contract: which columns each source delivers, their types, aliases and rules.

The loader, the Great Expectations suites, the demo generator and the contract documentation all
read these definitions, so a rule is stated once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ColumnType = Literal["string", "timestamp", "date", "amount", "integer", "boolean", "code"]


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    description: str
    required: bool = False
    aliases: tuple[str, ...] = ()
    # For `code` columns: canonical value -> accepted spellings (matched case-insensitively).
    codes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    minimum: float | None = None
    # Name of a Settings attribute holding the maximum (so the number is a setting, not a literal).
    maximum_setting: str | None = None
    maximum: float | None = None
    pii: bool = False
    is_amount_ceiling: bool = False
    # Free text that may hold line breaks (a quoted CSV field spanning lines). Everywhere else a line
    # break inside a field is the sign of a runaway quote that would swallow the following rows.
    multiline: bool = False

    @property
    def header_names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True)
class Source:
    name: str  # folder below the landing dir and table name in the raw schema
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # business key of one delivered record (staging dedupes on it)
    event_time: str  # the timestamp that should fall on or near the landing date
    references_members: bool = True

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def pii_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.pii)


CHANNELS = {
    "store": ("门店", "线下", "pos", "offline"),
    "online": ("线上", "电商", "ecommerce", "e-commerce", "web", "网店"),
    "app": ("APP", "客户端"),
    "mini_program": ("小程序", "miniprogram", "mini-program", "wechat_mini_program"),
}

MEMBERS = Source(
    name="members",
    description="CRM member master. The first delivery is a full snapshot; later files carry the "
    "members created or changed that day, each row the member's full state as of `updated_at`.",
    key=("member_id", "updated_at"),
    event_time="updated_at",
    references_members=False,
    columns=(
        Column("member_id", "string", "Member id in the CRM.", True, ("会员号", "会员编号", "会员ID")),
        Column("name", "string", "Full name.", aliases=("姓名",), pii=True),
        Column("mobile", "string", "Mobile number.", aliases=("手机号", "手机"), pii=True),
        Column("email", "string", "E-mail address.", aliases=("邮箱",), pii=True),
        Column(
            "gender",
            "code",
            "Gender.",
            aliases=("性别",),
            codes={"F": ("女", "female"), "M": ("男", "male"), "U": ("未知", "unknown")},
        ),
        Column("birthday", "date", "Date of birth.", aliases=("生日", "出生日期"), pii=True),
        Column("registered_at", "timestamp", "Registration time.", True, ("注册时间",)),
        Column(
            "registration_channel",
            "code",
            "Where the member registered.",
            aliases=("注册渠道",),
            codes={**CHANNELS, "other": ("其他",)},
        ),
        Column("home_store_id", "string", "Store the member belongs to.", aliases=("所属门店",)),
        Column("city", "string", "City of the home store.", aliases=("城市",)),
        Column(
            "paid_level",
            "integer",
            "Paid membership level, 0 = none.",
            aliases=("付费等级",),
            minimum=0,
            maximum_setting="max_paid_level",
        ),
        Column("consent_sms", "boolean", "Agreed to marketing SMS.", aliases=("短信授权",)),
        Column("consent_push", "boolean", "Agreed to app push.", aliases=("推送授权",)),
        Column("consent_phone", "boolean", "Agreed to marketing calls.", aliases=("电话授权",)),
        Column("updated_at", "timestamp", "When this state was recorded.", True, ("更新时间",)),
    ),
)

ORDERS = Source(
    name="orders",
    description="POS and e-commerce orders. A status change (refund, cancellation) is delivered "
    "again on the day it happens, as the same `order_id` with a later `updated_at`.",
    key=("order_id", "updated_at"),
    event_time="updated_at",
    columns=(
        Column("order_id", "string", "Order number.", True, ("订单号", "订单编号")),
        Column("member_id", "string", "Member who placed the order.", True, ("会员号", "会员编号")),
        Column("order_time", "timestamp", "When the order was placed.", True, ("下单时间", "交易时间")),
        Column("channel", "code", "Sales channel.", True, ("渠道", "销售渠道"), codes=CHANNELS),
        Column("store_id", "string", "Store code (POS orders).", aliases=("门店编号",)),
        Column("store_name", "string", "Store name.", aliases=("门店名称",)),
        Column("city", "string", "City of the store.", aliases=("城市",)),
        Column(
            "gross_amount",
            "amount",
            "Amount before discount, CNY.",
            True,
            ("订单金额", "应付金额"),
            minimum=0,
            maximum_setting="max_order_amount",
            is_amount_ceiling=True,
        ),
        Column(
            "discount_amount",
            "amount",
            "Discount, CNY (at most the gross amount).",
            aliases=("优惠金额",),
            minimum=0,
            maximum_setting="max_order_amount",
            is_amount_ceiling=True,
        ),
        Column("coupon_code", "string", "Coupon used, if any.", aliases=("优惠券",)),
        Column(
            "status",
            "code",
            "Order status.",
            True,
            ("订单状态", "状态"),
            codes={
                "paid": ("已支付", "completed", "已完成", "success"),
                "refunded": ("已退款", "refund"),
                "partially_refunded": ("部分退款", "partial_refund"),
                "cancelled": ("已取消", "canceled"),
            },
        ),
        Column(
            "refund_amount",
            "amount",
            "Amount refunded, CNY (at most gross minus discount).",
            aliases=("退款金额",),
            minimum=0,
            maximum_setting="max_order_amount",
            is_amount_ceiling=True,
        ),
        Column(
            "updated_at",
            "timestamp",
            "When this status was recorded. Optional: without it, a delivery counts as recorded "
            "on its landing day (or at order_time, if later), so a later delivery supersedes an earlier one.",
            aliases=("更新时间",),
        ),
    ),
)

EVENT_TYPES = {
    "login": ("登录",),
    "logout": ("退出",),
    "page_view": ("浏览", "pageview"),
    "click": ("点击",),
    "search": ("搜索",),
    "add_to_cart": ("加购",),
    "benefit_view": ("查看权益",),
    "benefit_use": ("使用权益",),
    "coupon_claim": ("领券",),
    "coupon_redeem": ("用券",),
    "points_redeem": ("积分兑换",),
    "share": ("分享",),
}

EVENTS = Source(
    name="events",
    description="App and mini-program behaviour events.",
    key=("event_id",),
    event_time="event_time",
    columns=(
        Column("event_id", "string", "Event id.", True, ("事件ID", "事件编号")),
        Column("member_id", "string", "Member who acted.", True, ("会员号", "会员编号")),
        Column("event_time", "timestamp", "When it happened.", True, ("事件时间", "时间")),
        Column("event_type", "code", "What happened.", True, ("事件类型",), codes=EVENT_TYPES),
        Column(
            "platform",
            "code",
            "Where it happened.",
            aliases=("平台",),
            codes={"app": ("APP",), "mini_program": ("小程序", "miniprogram"), "web": ("网页", "h5")},
        ),
        Column("page", "string", "Page or screen.", aliases=("页面",)),
        Column("benefit_code", "string", "Benefit or coupon concerned, if any.", aliases=("权益",)),
        Column(
            "dwell_seconds",
            "integer",
            "Seconds spent on the page.",
            aliases=("停留时长",),
            minimum=0,
            maximum_setting="max_dwell_seconds",
        ),
    ),
)

TICKETS = Source(
    name="tickets",
    description="Customer-service tickets. A ticket is delivered again whenever its status changes, "
    "with a later `updated_at`.",
    key=("ticket_id", "updated_at"),
    event_time="updated_at",
    columns=(
        Column("ticket_id", "string", "Ticket id.", True, ("工单号", "工单编号")),
        Column("member_id", "string", "Member concerned.", True, ("会员号", "会员编号")),
        Column("opened_at", "timestamp", "When the ticket was opened.", True, ("创建时间", "开始时间")),
        Column("closed_at", "timestamp", "When it was resolved or closed.", aliases=("关闭时间", "解决时间")),
        Column(
            "ticket_type",
            "code",
            "Kind of ticket.",
            True,
            ("工单类型", "类型"),
            codes={
                "consultation": ("咨询",),
                "complaint": ("投诉",),
                "after_sales": ("售后", "after-sales", "aftersales"),
            },
        ),
        Column(
            "status",
            "code",
            "Ticket status.",
            True,
            ("状态", "工单状态"),
            codes={
                "open": ("待处理", "新建"),
                "in_progress": ("处理中",),
                "resolved": ("已解决",),
                "closed": ("已关闭",),
            },
        ),
        Column(
            "content",
            "string",
            "Free text of the request (Chinese or English); treated as personal data because customers "
            "write their phone numbers and addresses into it.",
            aliases=("内容", "描述"),
            pii=True,
            multiline=True,
        ),
        Column(
            "satisfaction",
            "integer",
            "Satisfaction score 1-5.",
            aliases=("满意度",),
            minimum=1,
            maximum=5,
        ),
        Column(
            "updated_at",
            "timestamp",
            "When this state was recorded. Optional: without it, a delivery counts as recorded "
            "on its landing day (or at opened_at, if later), so a later delivery supersedes an earlier one.",
            aliases=("更新时间",),
        ),
    ),
)

OUTREACH_FEEDBACK = Source(
    name="outreach_feedback",
    description="Delivery and response outcomes from the SMS gateway, push service and call centre.",
    key=("message_id", "status"),
    event_time="event_time",
    columns=(
        Column("message_id", "string", "Message or call id.", True, ("消息ID",)),
        Column("batch_id", "string", "Outreach batch it belongs to.", True, ("批次号",)),
        Column("member_id", "string", "Member contacted.", True, ("会员号",)),
        Column(
            "channel",
            "code",
            "Outreach channel.",
            True,
            ("渠道",),
            codes={"sms": ("短信",), "push": ("推送",), "phone": ("电话",)},
        ),
        Column(
            "status",
            "code",
            "Outcome.",
            True,
            ("状态",),
            codes={
                "sent": ("已发送",),
                "delivered": ("已送达",),
                "failed": ("失败",),
                "opened": ("已打开",),
                "clicked": ("已点击",),
                "answered": ("已接听",),
                "no_answer": ("未接听",),
                "unsubscribed": ("退订",),
            },
        ),
        Column("event_time", "timestamp", "When the outcome happened.", True, ("时间",)),
    ),
)

SOURCES: dict[str, Source] = {s.name: s for s in (MEMBERS, ORDERS, EVENTS, TICKETS, OUTREACH_FEEDBACK)}
