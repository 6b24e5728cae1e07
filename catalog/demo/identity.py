"""Check digits of Chinese identifiers, computed directly because the generator makes
hundreds of thousands of them and Faker per row would take minutes.

Tests validate the results with python-stdnum (``stdnum.cn.ric``, ``stdnum.cn.uscc``)
so these stay honest.
"""

from __future__ import annotations

import random

_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)

# Mobile prefixes of the three carriers (139 China Mobile, 186 Unicom, 189 Telecom …).
MOBILE_PREFIXES = (
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139",
    "150", "151", "152", "153", "155", "156", "157", "158", "159",
    "166", "173", "175", "176", "177", "178", "180", "181", "182", "183",
    "184", "185", "186", "187", "188", "189", "191", "195", "198", "199",
)  # fmt: skip
# UnionPay debit card BINs of big banks (ICBC, ABC, CCB, BOC, PSBC).
CARD_BINS = ("621700", "622848", "621661", "621799", "622202", "621098")


def ric_check_digit(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of a resident ID number's first 17 digits.

    The weights are 2**k mod 11, and 13 ≡ 2 (mod 11), so reading the digits in base 13
    gives the weighted sum in one C-level call (python-stdnum's trick).
    """
    check = (1 - 2 * int(first17, 13)) % 11
    return "X" if check == 10 else str(check)


def id_number(birth_code: str, birth_yyyymmdd: str, sequence: int) -> str:
    """An 18-digit resident ID number; ``sequence`` is 0..999, odd for men."""
    first17 = f"{birth_code}{birth_yyyymmdd}{sequence:03d}"
    return first17 + ric_check_digit(first17)


def luhn_complete(partial: str) -> str:
    """Append the Luhn check digit bank cards carry."""
    digits = partial[::-1]
    # positions 0, 2, 4… of the reversed number are doubled once the check digit is appended
    total = sum(_DOUBLED[int(d)] for d in digits[::2]) + sum(int(d) for d in digits[1::2])
    return partial + str((10 - total % 10) % 10)


def bank_card(rng: random.Random) -> str:
    """A 19-digit UnionPay debit card number with a valid Luhn digit."""
    bin_ = CARD_BINS[int(rng.random() * len(CARD_BINS))]
    return luhn_complete(f"{bin_}{int(rng.random() * 10**12):012d}")


def mobile(rng: random.Random) -> str:
    """An 11-digit mainland mobile number."""
    prefix = MOBILE_PREFIXES[int(rng.random() * len(MOBILE_PREFIXES))]
    return f"{prefix}{int(rng.random() * 10**8):08d}"


def organization_code(body8: str) -> str:
    """GB 11714 organization code: eight characters plus their check character."""
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(body8, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return body8 + {10: "X", 11: "0"}.get(check, str(check))


def uscc(kind: str, region_code: str, body8: str) -> str:
    """GB 32100 unified social credit code; ``kind`` is two characters ("91" company,
    "12" public institution, "93" farmers' cooperative)."""
    first17 = kind + region_code + organization_code(body8)
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return first17 + _USCC_ALPHABET[(31 - total % 31) % 31]
