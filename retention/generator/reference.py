"""Fixed reference data of the demo retailer: names, stores, coupons, benefits, pages.

Everything is a tuple so that indexing with numpy arrays gives the same result on every run.
"""

from __future__ import annotations

from dataclasses import dataclass

# Common Chinese surnames and given-name characters (all GBK-encodable).
SURNAMES = tuple(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
    "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
# dict.fromkeys drops repeated characters while keeping the order stable.
GIVEN_NAME_CHARS = tuple(
    dict.fromkeys(
        "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彩春菊兰凤洁梅琳素云莲真环雪荣爱妹霞香月"
        "莺媛瑞凡佳嘉琼勤珍贞莉桂娣叶璧璐娅琦晶妍茜秋珊莎锦黛青倩婷姣婉娴瑾颖露瑶怡婵雁蓓纨仪荷丹蓉眉君琴蕊薇菁梦岚苑"
        "浩宇轩然子涵博文思源晨阳一鸣俊豪志远天佑家乐"
    )
)
EMAIL_HANDLES = (
    "xiaoming",
    "xiaohong",
    "lucky",
    "sunny",
    "happy",
    "tiantian",
    "lele",
    "panda",
    "coco",
    "momo",
    "dragon",
    "tiger",
    "apple",
    "orange",
    "yoyo",
    "kiki",
    "star",
    "moon",
    "cloud",
    "river",
    "wang",
    "li",
    "zhang",
    "liu",
    "chen",
    "yang",
    "zhao",
    "huang",
    "zhou",
    "wu",
)
EMAIL_DOMAINS = ("qq.com", "163.com", "126.com", "sina.com", "gmail.com", "outlook.com", "foxmail.com")


@dataclass(frozen=True)
class Store:
    store_id: str
    name: str
    city: str


def _stores() -> tuple[Store, ...]:
    districts = {
        "上海": ("徐汇", "静安", "浦东", "闵行", "长宁", "杨浦"),
        "北京": ("朝阳", "海淀", "西城", "东城", "丰台"),
        "广州": ("天河", "越秀", "海珠", "番禺"),
        "深圳": ("南山", "福田", "罗湖", "宝安"),
        "杭州": ("西湖", "滨江", "上城", "余杭"),
        "成都": ("锦江", "武侯", "高新"),
        "南京": ("鼓楼", "玄武", "建邺"),
        "武汉": ("江汉", "武昌", "洪山"),
        "重庆": ("渝中", "江北", "南岸"),
        "苏州": ("姑苏", "园区", "吴中"),
    }
    stores = []
    for city, names in districts.items():
        for district in names:
            stores.append(Store(f"S{len(stores) + 1:03d}", f"{city}{district}店", city))
    return tuple(stores)


STORES = _stores()
STORE_IDS = tuple(s.store_id for s in STORES)
STORE_NAMES = tuple(s.name for s in STORES)
STORE_CITIES = tuple(s.city for s in STORES)


@dataclass(frozen=True)
class Coupon:
    code: str
    threshold: float  # minimum gross amount for the coupon to apply
    off: float


COUPONS = (
    Coupon("CP30OFF100", 100, 30),
    Coupon("CP50OFF300", 300, 50),
    Coupon("CP100OFF800", 800, 100),
    Coupon("CP20NEWMEMBER", 50, 20),
    Coupon("CPBIRTHDAY50", 200, 50),
    Coupon("CP618SALE80", 500, 80),
    Coupon("CP1111SALE100", 600, 100),
    Coupon("CPNEWYEAR66", 300, 66),
)
COUPON_CODES = tuple(c.code for c in COUPONS)

BENEFIT_CODES = (
    "BNF_BIRTHDAY_GIFT",
    "BNF_DOUBLE_POINTS",
    "BNF_FREE_SHIPPING",
    "BNF_PRIORITY_SERVICE",
    "BNF_MEMBER_DAY",
    "BNF_EXCLUSIVE_EVENT",
    "BNF_ADVANCED_TRIAL",
)
POINTS_GIFT_CODES = ("PTS_GIFT_TOTE", "PTS_GIFT_MUG", "PTS_GIFT_VOUCHER20", "PTS_GIFT_UMBRELLA")

# Non-login event types with their share of in-session events; a session always opens with a login.
SESSION_EVENT_WEIGHTS = {
    "page_view": 0.40,
    "click": 0.20,
    "search": 0.08,
    "add_to_cart": 0.07,
    "benefit_view": 0.07,
    "benefit_use": 0.025,
    "coupon_claim": 0.05,
    "coupon_redeem": 0.02,
    "points_redeem": 0.015,
    "share": 0.03,
}
PAGES_BY_EVENT_TYPE = {
    "login": ("login",),
    "page_view": ("home", "category", "product_detail", "activity", "member_center", "order_list"),
    "click": ("home", "category", "product_detail", "activity"),
    "search": ("search_result",),
    "add_to_cart": ("product_detail", "cart"),
    "benefit_view": ("member_center", "benefit_center"),
    "benefit_use": ("benefit_center",),
    "coupon_claim": ("coupon_center", "activity"),
    "coupon_redeem": ("cart", "checkout"),
    "points_redeem": ("points_mall",),
    "share": ("product_detail", "activity"),
}
# Which catalogue an event's benefit_code comes from (events not listed carry none).
BENEFIT_CATALOGUE_BY_EVENT_TYPE = {
    "benefit_view": BENEFIT_CODES,
    "benefit_use": BENEFIT_CODES,
    "coupon_claim": COUPON_CODES,
    "coupon_redeem": COUPON_CODES,
    "points_redeem": POINTS_GIFT_CODES,
}
