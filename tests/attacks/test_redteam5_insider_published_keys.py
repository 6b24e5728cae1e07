"""Red team 5, as a database insider holding the gateway's runtime role: a signing key of
their own among the keys the gateway publishes for pinning.

Rule: offline verification trusts only keys pinned from the gateway — "pin the gateway's
published key ids" (``GET /api/v1/audit/keys``; README, docs/deploy.md "Backups": the
nightly archive is ``curl …/api/v1/audit/keys > audit-keys.json`` then ``sluice audit
verify --file trail.jsonl --trust audit-keys.json``) — because "anyone can re-chain and
re-sign a forged export with a key of their own" (``audit/export.py``).

Attack: the runtime role may append to ``audit_keys`` (docs/deploy.md, roles table: it
must, to publish a replica's new key), and ``GET /api/v1/audit/keys`` publishes every
row of that table. The insider INSERTs the public half of an Ed25519 key they hold; the
next key list fetched for pinning carries it, and every export they re-chain and sign
with it — events edited, dropped or added, checkpoints re-signed — verifies offline as
the gateway's trail. Nothing said a published key was made by a gateway.

Fixed: each row the gateway writes carries a MAC with the deployment key
(``audit.signing.EventMac.key_tag``; derived from a secret file, never in the database),
and only rows whose MAC checks — or MAC-less rows of the gateway's own ring, from before
the upgrade — are published, exported or verify new checkpoints (``audit.signing.KeyRows``;
variants in tests/audit/test_keys_mac.py).
"""

from __future__ import annotations

from pathlib import Path

from audit.signing import KeyRing
from tests.gateway.demo_app import DemoGateway


def test_a_key_appended_behind_the_gateway_is_not_published(
    deployment: DemoGateway, tmp_path: Path
) -> None:
    gw = deployment
    before = {k["kid"] for k in gw.client.get("/api/v1/audit/keys").json()["keys"]}
    assert before, "the gateway publishes its own key"
    insider = KeyRing(tmp_path / "insider-keys")  # a key pair only the insider holds
    kid, public = next(iter(insider.public_keys().items()))
    gw.sql("INSERT INTO audit_keys (kid, algorithm, public_key, created_at) "
           "VALUES (:kid, 'Ed25519', :pub, '2026-01-01T00:00:00.000000Z')",
           kid=kid, pub=public)  # fmt: skip
    published = {k["kid"] for k in gw.client.get("/api/v1/audit/keys").json()["keys"]}
    assert kid not in published, (
        "the insider's key is published for pinning: exports they sign verify offline"
    )
    assert published == before
