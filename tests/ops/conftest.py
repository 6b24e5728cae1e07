"""Fixtures of the deployment guide's tests: one guide-built deployment per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.ops.deployment import Deployment, deployment


@pytest.fixture(scope="module")
def guided(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """PostgreSQL with the guide's roles, the demo departments registered as the runtime
    role, an OIDC provider; fresh for each test module."""
    with deployment(tmp_path_factory.mktemp("guided")) as built:
        yield built
