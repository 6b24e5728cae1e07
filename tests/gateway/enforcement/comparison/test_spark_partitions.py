"""Shuffle partitions of a local Spark master: two per thread it runs, whatever the
machine (``spark.session.local_partitions``)."""

from __future__ import annotations

import os

import pytest

from gateway.enforcement.comparison.spark.session import local_partitions


@pytest.mark.parametrize(("master", "partitions"), [
    ("local", 2), ("local[1]", 2), ("local[2]", 4), ("local[8]", 16), ("local[4,3]", 8),
    ("local[x]", 2),
])  # fmt: skip
def test_two_per_thread(master: str, partitions: int) -> None:
    assert local_partitions(master) == partitions


def test_every_core_for_a_star() -> None:
    assert local_partitions("local[*]") == 2 * (os.cpu_count() or 1)
