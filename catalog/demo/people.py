"""People of the demo world, each with a unique, checksum-valid resident ID number.

Uniqueness is by construction (a sequence counter per birth place and birth date),
not by a set of issued numbers, so a million people cost a few megabytes. Because
nobody is drawn twice, the only people who appear in two tables are the ones the
generator plants there on purpose, and the anomaly counts are exact.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

from catalog.demo.identity import id_number
from catalog.demo.regions import birth_codes_for_year


@dataclass(frozen=True, slots=True)
class Person:
    id_number: str
    name: str
    birth_date: date


class PersonAllocator:
    """Hands out new people; never the same ID number twice within one generation."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self._names = names
        self._next: dict[tuple[str, int], int] = {}
        self._days: dict[int, tuple[date, str, tuple[str, ...]]] = {}

    def _day(self, ordinal: int) -> tuple[date, str, tuple[str, ...]]:
        """Birth date, its YYYYMMDD text and the birth-place codes of its year (cached)."""
        known = self._days.get(ordinal)
        if known is None:
            day = date.fromordinal(ordinal)
            known = (day, day.strftime("%Y%m%d"), birth_codes_for_year(day.year))
            self._days[ordinal] = known
        return known

    def new(self, rng: random.Random, *, oldest: date, youngest: date) -> Person:
        """A new person born between ``oldest`` and ``youngest`` (inclusive)."""
        first = oldest.toordinal()
        span = youngest.toordinal() - first + 1
        rand = rng.random
        while True:
            birth, yyyymmdd, codes = self._day(first + int(rand() * span))
            code = codes[int(rand() * len(codes))]
            male = rand() < 0.5
            key = (code, birth.toordinal() * 2 + male)
            counter = self._next.get(key)
            if counter is None:
                counter = int(rand() * 400)
            if counter < 500:  # sequence 000..999, odd for men: 500 per sex and day
                self._next[key] = counter + 1
                number = id_number(code, yyyymmdd, counter * 2 + male)
                return Person(number, self._names[int(rand() * len(self._names))], birth)
