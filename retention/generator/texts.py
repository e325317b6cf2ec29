"""Free-text templates for customer-service tickets, in Chinese and English.

The themed lists say "I am leaving" in many words (paraphrases, mixed language), so the demo exercises
the churn-intent detector (retention/churn_intent) rather than a dictionary; the ordinary lists include
hard negatives - other brands mentioned without leaving, "don't need" about a receipt or a callback,
intent denied - which the detector must leave alone, so a churn-text flag in the demo data always traces
back to a persona.
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
        "其他品牌的滤芯能装在你们卖的净水器上吗？",
        "别家超市有积分兑换停车券，你们以后会有吗？",
        "不需要纸质小票，发到app里就可以。",
        "如果会员到期忘了续费，积分会清零吗？",
        "How do I check my member points balance?",
        "Can I use two coupons on one order?",
        "What benefits come with the advanced tier?",
        "Does a third-party charger work with the speaker I bought here?",
        "I don't need a printed receipt, an e-receipt is fine.",
        "会员日是每个月哪一天？want to plan my shopping",
    ),
    "complaint": (
        "门店排队时间太长，服务态度一般。",
        "下单后一直没有发货，请尽快处理。",
        "优惠券无法使用，结算时提示已失效。",
        "积分被扣了但是没有兑换成功。",
        "客服电话一直打不通，问题没人处理。",
        "我不会换别家，但是配送真的要快一点。",
        "The app keeps logging me out at checkout.",
        "My coupon was not applied to the order.",
        "Delivery is late again, very disappointed.",
        "I'm not cancelling, but please stop sending three texts a day.",
        "App闪退了三次，order都没提交成功",
    ),
    "after_sales": (
        "收到的商品有破损，申请退换货。",
        "尺码不合适，想换一个大一号的。",
        "申请退款，商品与描述不符。",
        "发票信息填错了，麻烦帮忙重开。",
        "之前申请的维修不需要了，已经自己修好。",
        "I would like to return an item that arrived damaged.",
        "Please help me exchange the size of my order.",
        "No need to call back, the refund arrived.",
    ),
}

# Said by "switching" members after their change date.
COMPETITOR_TEXTS = (
    "别家的会员折扣更大，考虑换过去了。",
    "楼下那家便利店天天打折，以后就在那边买了。",
    "我已经在盒马下单了，你们这边的会员不续了。",
    "隔壁商场积分返得更多，下个月开始去那边办卡。",
    "同样的东西网上便宜一半，以后不来门店买了。",
    "A competitor offers better member discounts, thinking of switching.",
    "I have been shopping at another store lately, and I'll keep buying there from now on.",
    "Found a cheaper supermarket nearby, please cancel my membership.",
    "Your rival delivers for free, so I'm taking my shopping there.",
    "price太高了，我准备去Costco买",
)

# Said by some "declining" members after their change date.
NO_LONGER_NEEDED_TEXTS = (
    "搬家了，以后不再需要这个会员了。",
    "会员权益基本用不上，想取消付费会员。",
    "孩子长大了，母婴会员以后用不着了。",
    "会员到期就不续了，平时很少来。",
    "麻烦帮我注销会员账号，谢谢。",
    "I don't need it anymore, please cancel my paid membership.",
    "Moved away, don't need it anymore.",
    "I won't be renewing my membership this year.",
    "请帮我关掉自动续费，明年不打算续了",
)

THEMED_TEXTS = {"competitor": COMPETITOR_TEXTS, "no_longer_needed": NO_LONGER_NEEDED_TEXTS}
