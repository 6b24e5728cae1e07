"""Value pools built once per seed from Faker's zh_CN locale.

Faker is far too slow to call for each of a million rows (and even 5,000 ``name()``
calls take a second), so names are composed from Faker's zh_CN surname frequency table
and given names with a seeded ``random.Random``, streets come from a few hundred Faker
calls, and the generator composes rows from these pools. Same seed, same Faker
version → same pools; they are cached per seed, they are immutable.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

from faker import Faker
from faker.providers.person.zh_CN import Provider as ZhPerson

from catalog.demo.identity import uscc
from catalog.demo.regions import REGIONS

NAME_POOL = 5000
STREET_POOL = 400

_UNITS = (
    "教育局", "卫生健康局", "财政局", "民政局", "人力资源和社会保障局", "农业农村局",
    "自然资源局", "住房和城乡建设局", "市场监督管理局", "城市管理局", "人民医院",
    "中医医院", "妇幼保健院", "第一中学", "第二中学", "第一小学", "实验小学",
    "疾病预防控制中心", "人民政府办公室", "街道办事处", "乡镇综合服务中心",
)  # fmt: skip
POSITIONS: tuple[tuple[str, float, float], ...] = (
    # position, lowest and highest monthly salary (yuan)
    ("科员", 4200.0, 7500.0),
    ("副主任科员", 5200.0, 8600.0),
    ("主任科员", 6000.0, 9800.0),
    ("副科长", 6500.0, 10500.0),
    ("科长", 7500.0, 12500.0),
    ("教师", 5000.0, 11000.0),
    ("医师", 6000.0, 16000.0),
    ("护士", 4500.0, 9000.0),
    ("工勤人员", 3200.0, 5200.0),
)
PROJECTS = (
    "耕地地力保护补贴", "农机购置补贴", "稻谷目标价格补贴", "生猪调出大县奖励",
    "农村危房改造补助", "城镇老旧小区改造补助", "就业创业补贴", "职业技能培训补贴",
    "中小企业发展专项资金", "公共文化服务补助", "乡村振兴衔接资金", "退耕还林补助",
)  # fmt: skip
AUDIT_CATEGORIES = (
    "虚报冒领", "违规发放补贴", "超标准发放", "资金闲置", "挤占挪用",
    "程序不规范", "政府采购违规", "会计核算不规范",
)  # fmt: skip
AUDIT_STATUSES = ("open", "rectifying", "closed")
_PAYEE_KINDS = ("91", "91", "91", "93", "12")


@dataclass(frozen=True)
class Pools:
    """Everything the row builders pick from; per-region lists are keyed by region code."""

    names: tuple[str, ...]
    streets: tuple[str, ...]
    employers: dict[str, tuple[str, ...]]
    payees: dict[str, tuple[str, ...]]


def _names(rng: random.Random) -> tuple[str, ...]:
    """Chinese full names: surnames by their real frequency, Faker's zh_CN given names."""
    surnames = list(ZhPerson.last_names)
    weights = list(ZhPerson.last_names.values())
    given = list(ZhPerson.first_names)
    picked = rng.choices(surnames, weights, k=NAME_POOL)
    return tuple(surname + rng.choice(given) for surname in picked)


@lru_cache(maxsize=8)
def build_pools(seed: int) -> Pools:
    """Fill the pools for ``seed``."""
    rng = random.Random(f"{seed}:pools")  # noqa: S311 - reproducible demo data, not secrets
    names = _names(rng)
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    streets = tuple(sorted({fake.street_name() for _ in range(STREET_POOL)}))
    employers = {r.code: tuple(f"{r.district}{unit}" for unit in _UNITS) for r in REGIONS}
    payees: dict[str, tuple[str, ...]] = {}
    seen: set[str] = set()
    for region in REGIONS:
        codes: list[str] = []
        while len(codes) < 200:
            code = uscc(rng.choice(_PAYEE_KINDS), region.code, f"{rng.randrange(10**8):08d}")
            if code not in seen:
                seen.add(code)
                codes.append(code)
        payees[region.code] = tuple(codes)
    return Pools(names=names, streets=streets, employers=employers, payees=payees)
