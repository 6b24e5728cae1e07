"""A production deployment built by the guide: the guide's database and roles, an OIDC
provider, the demo departments' data registered as the runtime role, and homes for
replicas that hold the shared secrets (``docs/deploy.md``, "What lives in SLUICE_HOME").

The departments' SQLite files stay in the seeding operator's home; replicas read them
through ``SLUICE_FILE_ROOTS``, as they would read a shared file tree.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient

from gateway.core.settings import load_settings
from gateway.enforcement.masking.secret import load_mask_secret
from gateway.web.app import create_app
from gateway.wiring.container import build_services
from gateway.wiring.demo import setup_demo
from tests.gateway.demo_app import SMALL
from tests.ops.guide import GuideDatabase, guide_database
from tests.ops.oidc import Provider, provider

SHARED = ("keys/mask.secret", "keys/console.secret", "keys/master")
DIBAO = "civil.dibao_recipients"
QUERY = {"fields": ["name", "region_code"], "purpose": "supervision", "case_ref": "OPS-1",
         "limit": 5}  # fmt: skip


@dataclass
class Deployment:
    db: GuideDatabase
    idp: Provider
    seed: Path
    master_key: str

    def settings(self, home: Path, **extra: str) -> dict[str, str]:
        """The guide's settings for a gateway on this deployment (runtime role, OIDC)."""
        return {
            "SLUICE_ENV": "production",
            "SLUICE_DEMO": "false",
            "SLUICE_HOME": str(home),
            "SLUICE_DATABASE_URL": self.db.app_url,
            "SLUICE_MASTER_KEY": self.master_key,
            "SLUICE_FILE_ROOTS": str(self.seed / "demo"),
            **self.idp.settings(),
            **extra,
        }

    def new_home(self, path: Path) -> Path:
        """A replica's home: 0700, with the seed's shared secrets copied in (0600)."""
        path.mkdir(mode=0o700, parents=True)
        for relative in SHARED:
            source = self.seed / relative
            if source.is_dir():
                shutil.copytree(source, path / relative)
            elif source.exists():
                (path / relative).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                shutil.copy2(source, path / relative)
        for item in (path / "keys").rglob("*"):
            os.chmod(item, 0o700 if item.is_dir() else 0o600)
        return path

    def serve_once(self, home: Path) -> None:
        """Run this home's gateway in process for one governed query, as a replica's
        first start would: its audit key, gateway id and witness file are made."""
        settings = load_settings(
            env="production", demo=False, home=home, database_url=self.db.app_url,
            master_key=self.master_key, file_roots=[self.seed / "demo"],
            oidc_issuer=self.idp.issuer, oidc_jwks_url=self.idp.jwks_url,
        )  # fmt: skip
        services = build_services(settings)
        try:
            with TestClient(create_app(settings, services)) as client:
                resp = client.post(f"/api/v1/datasets/{DIBAO}/query", json=QUERY,
                                   headers=self.idp.headers("alice"))  # fmt: skip
                resp.raise_for_status()
        finally:
            services.close()


@contextmanager
def deployment(directory: Path) -> Iterator[Deployment]:
    master_key = base64.b64encode(secrets.token_bytes(32)).decode()
    with guide_database() as db, provider() as idp:
        seed = directory / "seed"
        seed.mkdir(mode=0o700)
        settings = load_settings(home=seed, database_url=db.app_url, master_key=master_key)
        services = build_services(settings)
        try:
            setup_demo(services, sizes=SMALL)
        finally:
            services.close()
        load_mask_secret(seed)
        yield Deployment(db=db, idp=idp, seed=seed, master_key=master_key)
