"""The counties of the demo world and the birth-place codes their residents' ID numbers carry.

Region codes are real six-digit administrative division codes, so row filters by
jurisdiction prefix (``430121``, ``4301``) behave as they would on real data, and the
address text of each county starts with its province, city and district so the
``address_district`` mask keeps exactly the county.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from stdnum.cn import ric
from stdnum.exceptions import ValidationError


@dataclass(frozen=True)
class Region:
    """A county-level unit: where a person lives, an employer sits, a payment is made."""

    code: str
    province: str
    city: str
    district: str
    weight: int  # relative population, so the counties are not all the same size

    @property
    def address_prefix(self) -> str:
        return f"{self.province}{self.city}{self.district}"

    @property
    def short_name(self) -> str:
        return self.district


REGIONS: tuple[Region, ...] = (
    Region("430102", "湖南省", "长沙市", "芙蓉区", 5),
    Region("430103", "湖南省", "长沙市", "天心区", 5),
    Region("430121", "湖南省", "长沙市", "长沙县", 8),
    Region("430181", "湖南省", "长沙市", "浏阳市", 9),
    Region("431002", "湖南省", "郴州市", "北湖区", 4),
)
REGION_CODES: tuple[str, ...] = tuple(r.code for r in REGIONS)
REGION_WEIGHTS: tuple[int, ...] = tuple(r.weight for r in REGIONS)

# Codes people may have been born under: the demo counties plus neighbours. Some of
# them only exist from a given year (芙蓉区 from 1983, 浏阳市 from 1993, 北湖区 from
# 1994), so an ID number's prefix is chosen among the codes valid in its birth year,
# which is what python-stdnum's ``cn.ric.validate`` checks.
BIRTH_CODES: tuple[str, ...] = (
    *REGION_CODES,
    "430100",  # 长沙市
    "430104",  # 岳麓区
    "430321",  # 湘潭县
    "430600",  # 岳阳市
    "431000",  # 郴州市
)


@cache
def birth_codes_for_year(year: int) -> tuple[str, ...]:
    """The birth-place codes that existed in ``year`` (stdnum's table decides)."""
    valid = []
    for code in BIRTH_CODES:
        probe = f"{code}{year:04d}0101001"
        probe += ric.calc_check_digit(probe + "0")
        try:
            ric.get_birth_place(probe)
        except ValidationError:
            continue
        valid.append(code)
    if not valid:  # pragma: no cover - 湘潭县 and 长沙市 exist in every year
        raise ValueError(f"no birth-place code valid in {year}")
    return tuple(valid)
