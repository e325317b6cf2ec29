"""Free-text templates for customer-service tickets, in Chinese and English.

The themed lists carry the phrases the churn-risk keyword dictionary looks for (competitor /
no longer needed); the ordinary lists deliberately avoid them so that a keyword hit in the demo
data always traces back to a persona.
"""

from __future__ import annotations

TICKET_TEXTS = {
    "consultation": (
        "请问会员积分什么时候到账？",
        "想咨询一下生日礼券怎么领取。",
        "请问进阶会员有哪些权益？",
        "门店营业时间是几点到几点？",
        "优惠券可以和折扣一起使用吗？",
        "付费会员可以开发票吗？",
        "How do I check my member points balance?",
        "Can I use two coupons on one order?",
        "What benefits come with the advanced tier?",
    ),
    "complaint": (
        "门店排队时间太长，服务态度一般。",
        "下单后一直没有发货，请尽快处理。",
        "优惠券无法使用，结算时提示已失效。",
        "积分被扣了但是没有兑换成功。",
        "客服电话一直打不通，问题没人处理。",
        "The app keeps logging me out at checkout.",
        "My coupon was not applied to the order.",
        "Delivery is late again, very disappointed.",
    ),
    "after_sales": (
        "收到的商品有破损，申请退换货。",
        "尺码不合适，想换一个大一号的。",
        "申请退款，商品与描述不符。",
        "发票信息填错了，麻烦帮忙重开。",
        "I would like to return an item that arrived damaged.",
        "Please help me exchange the size of my order.",
    ),
}

# Said by "switching" members after their change date.
COMPETITOR_TEXTS = (
    "别家的会员折扣更大，考虑换过去了。",
    "竞品那边积分可以直接抵现，你们的太麻烦。",
    "最近在其他品牌买得更多，他们的活动更划算。",
    "朋友推荐了别家，价格便宜不少。",
    "A competitor offers better member discounts, thinking of switching.",
    "I have been shopping at another brand lately, their benefits are better.",
    "Found a competitor with free delivery for members.",
)

# Said by some "declining" members after their change date.
NO_LONGER_NEEDED_TEXTS = (
    "搬家了，以后不再需要这个会员了。",
    "会员权益基本用不上，想取消付费会员。",
    "孩子长大了，这类商品不再需要。",
    "最近用不上，积分也没什么用。",
    "I don't need it anymore, please cancel my paid membership.",
    "Moved away, don't need it anymore.",
)

THEMED_TEXTS = {"competitor": COMPETITOR_TEXTS, "no_longer_needed": NO_LONGER_NEEDED_TEXTS}
