"""The operator's reference data: a Guangdong branch of a Chinese mobile operator.

Small, static and hand-written so managers recognise it; the simulation refers to rows by
their position in these tuples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.generate.hashing import uniform

PROVINCE_EN, PROVINCE_ZH = "Guangdong", "广东"

# (region_id, English name, Chinese name, city tier, weight = rough share of subscribers)
REGIONS: tuple[tuple[str, str, str, int, float], ...] = (
    ("GZ", "Guangzhou", "广州", 1, 0.17),
    ("SZ", "Shenzhen", "深圳", 1, 0.16),
    ("FS", "Foshan", "佛山", 2, 0.08),
    ("DG", "Dongguan", "东莞", 2, 0.09),
    ("ZH", "Zhuhai", "珠海", 2, 0.03),
    ("HZ", "Huizhou", "惠州", 2, 0.05),
    ("ZS", "Zhongshan", "中山", 3, 0.04),
    ("JM", "Jiangmen", "江门", 3, 0.04),
    ("ST", "Shantou", "汕头", 3, 0.05),
    ("ZJ", "Zhanjiang", "湛江", 3, 0.05),
    ("ZQ", "Zhaoqing", "肇庆", 3, 0.03),
    ("MM", "Maoming", "茂名", 4, 0.04),
    ("JY", "Jieyang", "揭阳", 4, 0.04),
    ("QY", "Qingyuan", "清远", 4, 0.03),
    ("SG", "Shaoguan", "韶关", 4, 0.02),
    ("MZ", "Meizhou", "梅州", 4, 0.03),
    ("CZ", "Chaozhou", "潮州", 4, 0.02),
    ("YJ", "Yangjiang", "阳江", 4, 0.02),
    ("HY", "Heyuan", "河源", 4, 0.02),
    ("SW", "Shanwei", "汕尾", 4, 0.02),
    ("YF", "Yunfu", "云浮", 4, 0.01),
)
CELLS_PER_TIER = {1: 24, 2: 14, 3: 9, 4: 6}


@dataclass(frozen=True)
class Plan:
    plan_id: str
    name_en: str
    name_zh: str
    plan_type: str
    brand_en: str
    brand_zh: str
    monthly_fee_cny: float
    included_data_mb: float
    included_voice_min: float


PLANS: tuple[Plan, ...] = (
    Plan("EO08", "Easy Own 8", "神州行8元卡", "prepaid", "Easy Own", "神州行", 8.0, 300, 50),
    Plan("EO18", "Easy Own 18", "神州行18元卡", "prepaid", "Easy Own", "神州行", 18.0, 2048, 100),
    Plan("MZ29", "M-Zone 29", "动感地带29元卡", "prepaid", "M-Zone", "动感地带", 29.0, 10240, 100),
    Plan(
        "MZ59", "M-Zone 59", "动感地带59元套餐", "postpaid", "M-Zone", "动感地带", 59.0, 30720, 200
    ),
    Plan("GT98", "GoTone 98", "全球通98元套餐", "postpaid", "GoTone", "全球通", 98.0, 40960, 500),
    Plan(
        "GT158", "GoTone 158", "全球通158元套餐", "postpaid", "GoTone", "全球通", 158.0, 61440, 1000
    ),
    Plan(
        "GT288",
        "GoTone 288",
        "全球通288元尊享套餐",
        "premium_postpaid",
        "GoTone",
        "全球通",
        288.0,
        102400,
        2000,
    ),
    Plan(
        "GT588",
        "GoTone 588",
        "全球通588元尊享套餐",
        "premium_postpaid",
        "GoTone",
        "全球通",
        588.0,
        204800,
        5000,
    ),
)
PLAN_TYPES = ("prepaid", "postpaid", "premium_postpaid")


@dataclass(frozen=True)
class Product:
    product_id: str
    name_en: str
    name_zh: str
    category: str
    monthly_fee_cny: float


# Position in this tuple = bit in the holdings mask. NEW_5G_BOOST is launched mid-range.
PRODUCTS: tuple[Product, ...] = (
    Product("DATA_LARGE", "Large data pack 30GB", "30GB大流量包", "data", 30.0),
    Product("VIDEO_PACK", "Video streaming pack", "视频会员流量包", "content", 20.0),
    Product("MUSIC_PACK", "Music pack", "咪咕音乐包", "content", 10.0),
    Product("CLOUD_STORAGE", "Cloud storage 200GB", "移动云盘200GB", "cloud", 10.0),
    Product("FAMILY_PLAN", "Family share plan", "亲情网家庭套餐", "family", 38.0),
    Product("HOME_BROADBAND", "Home broadband 500M", "家庭宽带500M", "broadband", 99.0),
    Product("ROAMING_PACK", "International roaming pack", "国际漫游包", "roaming", 25.0),
    Product("INTL_CALL_PACK", "International call pack", "国际长途包", "international", 15.0),
    Product("INSURANCE", "Phone insurance", "手机保障险", "insurance", 12.0),
    Product("NEW_5G_BOOST", "5G speed boost", "5G加速包", "data", 20.0),
)
PRODUCT_IDS = tuple(p.product_id for p in PRODUCTS)
PRODUCT_INDEX = {p: i for i, p in enumerate(PRODUCT_IDS)}
NEW_PRODUCT = "NEW_5G_BOOST"


@dataclass(frozen=True)
class Channel:
    channel_id: str
    name_en: str
    name_zh: str
    channel_type: str
    region_id: str | None
    commission_per_gross_add_cny: float
    fixed_cost_cny: float  # per month for a 50,000-subscriber operator (scaled with size)
    clawback_days: int
    add_weight: float  # share of gross adds


CHANNELS: tuple[Channel, ...] = (
    Channel(
        "CH_OS_GZ",
        "Guangzhou Tianhe flagship store",
        "广州天河旗舰营业厅",
        "own_store",
        "GZ",
        60.0,
        40000.0,
        0,
        0.08,
    ),
    Channel(
        "CH_OS_SZ",
        "Shenzhen Futian flagship store",
        "深圳福田旗舰营业厅",
        "own_store",
        "SZ",
        60.0,
        40000.0,
        0,
        0.08,
    ),
    Channel(
        "CH_FA_01",
        "Guangzhou Baiyun agent",
        "广州白云合作营业厅",
        "franchise_agent",
        "GZ",
        90.0,
        0.0,
        90,
        0.09,
    ),
    Channel(
        "CH_FA_02",
        "Dongguan Humen agent",
        "东莞虎门合作营业厅",
        "franchise_agent",
        "DG",
        90.0,
        0.0,
        90,
        0.08,
    ),
    Channel(
        "CH_FA_03",
        "Foshan Nanhai agent",
        "佛山南海合作营业厅",
        "franchise_agent",
        "FS",
        # Fake-activation agents chase commission: the highest per-add rate of the agents.
        180.0,
        0.0,
        90,
        0.18,
    ),
    Channel(
        "CH_FA_04",
        "Shantou Jinping agent",
        "汕头金平合作营业厅",
        "franchise_agent",
        "ST",
        85.0,
        0.0,
        90,
        0.07,
    ),
    Channel(
        "CH_FA_05",
        "Zhanjiang Chikan agent",
        "湛江赤坎合作营业厅",
        "franchise_agent",
        "ZJ",
        85.0,
        0.0,
        90,
        0.06,
    ),
    Channel("CH_APP", "China Mobile app", "中国移动APP", "online_app", None, 12.0, 8000.0, 0, 0.16),
    Channel(
        "CH_TS", "Telesales centre", "电话营销中心", "telesales", None, 45.0, 20000.0, 30, 0.07
    ),
    Channel(
        "CH_EC", "Tmall flagship store", "天猫旗舰店", "ecommerce", None, 35.0, 10000.0, 30, 0.09
    ),
    Channel(
        "CH_ED",
        "Enterprise direct sales",
        "政企客户部直销",
        "enterprise_direct",
        None,
        150.0,
        40000.0,
        180,
        0.04,
    ),
)
CHANNEL_IDS = tuple(c.channel_id for c in CHANNELS)
BAD_CHANNEL_ID = "CH_FA_03"
CHEAPEST_CHANNEL_ID = "CH_APP"
ENTERPRISE_CHANNEL_ID = "CH_ED"
ONLINE_CHANNEL_ID = "CH_APP"
TELESALES_CHANNEL_ID = "CH_TS"

# China Mobile number ranges (the first three digits of an MSISDN).
MSISDN_PREFIXES = (
    134,
    135,
    136,
    137,
    138,
    139,
    150,
    151,
    152,
    157,
    158,
    159,
    182,
    183,
    187,
    188,
    198,
)
SEGMENTS = ("mass", "youth", "business", "high_value")
DEVICE_GENERATIONS = ("3G", "4G", "5G")
GENDERS = ("F", "M")
PAYMENT_METHODS = ("wechat_pay", "alipay", "bank_card", "voucher")
RECHARGE_AMOUNTS = (10.0, 20.0, 30.0, 50.0, 100.0, 200.0)
COMPLAINT_CATEGORIES = ("coverage", "billing_dispute", "service_attitude", "fraud")
CONTACT_CHANNELS = ("sms", "telesales", "app_push")
OPERATORS = ("own", "competitor_a", "competitor_b")


@dataclass(frozen=True)
class Cells:
    """Every serving cell, its region and its underlying quality (seeded)."""

    cell_ids: tuple[str, ...]
    region_index: np.ndarray  # int, position in REGIONS
    base_drop_rate: np.ndarray  # share of calls dropped on an average day
    base_throughput_mbps: np.ndarray
    is_poor: np.ndarray  # bool: a planted bad cell
    region_offset: np.ndarray  # per region: index of its first cell
    region_count: np.ndarray  # per region: number of cells


def build_cells(seed: int, poor_share: float) -> Cells:
    """The cells of every region; ``poor_share`` of them drop many calls."""
    ids: list[str] = []
    region_index: list[int] = []
    offsets, counts = [], []
    for r, (region_id, _en, _zh, tier, _w) in enumerate(REGIONS):
        offsets.append(len(ids))
        counts.append(CELLS_PER_TIER[tier])
        for k in range(CELLS_PER_TIER[tier]):
            ids.append(f"{region_id}-C{k + 1:03d}")
            region_index.append(r)
    n = len(ids)
    idx = np.arange(n)
    poor = uniform(seed, "cell:poor", idx) < poor_share
    good_rate = 0.004 + 0.010 * uniform(seed, "cell:drop", idx)
    poor_rate = 0.040 + 0.040 * uniform(seed, "cell:drop", idx)
    throughput = 40.0 + 160.0 * uniform(seed, "cell:tput", idx)
    return Cells(
        cell_ids=tuple(ids),
        region_index=np.array(region_index),
        base_drop_rate=np.where(poor, poor_rate, good_rate),
        base_throughput_mbps=np.where(poor, throughput * 0.35, throughput),
        is_poor=poor,
        region_offset=np.array(offsets),
        region_count=np.array(counts),
    )
