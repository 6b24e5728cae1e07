"""``sluice query DATASET``: a governed query from an analyst's desk, to a file or stdout.

A client of the gateway's HTTP API (``POST /api/v1/datasets/{id}/query``), not of its
database: it needs only a URL and a token, and what it gets is exactly what policy
lets the gateway send — masked, filtered, on record. ``gateway.cli.remote`` says where
the token comes from; ``gateway.cli.download`` how a result ends (``FILE.part``,
truncation reported).

    export SLUICE_URL=https://sluice.example.gov.cn
    sluice query civil.dibao_recipients --token-file ~/.sluice/token \\
        --fields region_code,monthly_amount --purpose supervision --case-ref JW-2026-017 \\
        --where '{"field": "region_code", "op": "prefix", "value": "4301"}' \\
        --out dibao.parquet
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import click

from gateway.cli.remote import (
    output_from,
    output_options,
    parse_where,
    remote_from,
    remote_options,
    split_fields,
)


@click.command("query")
@click.argument("dataset")
@click.option(
    "--fields",
    "-f",
    multiple=True,
    help="fields to return, comma-separated or repeated (default: all allowed)",
)
@click.option(
    "--where",
    "-w",
    multiple=True,
    help='a filter as JSON, {"field": …, "op": …, "value": …}, a list of them, '
    "or @FILE; repeatable (all must hold)",
)
@click.option("--order-by", multiple=True, help="field to sort by (-field: descending)")
@click.option("--limit", type=click.IntRange(min=1), help="at most this many rows")
@click.option(
    "--unmask", multiple=True, help="PI field to see in clear (needs an approved access request)"
)
@click.option("--purpose", required=True, help="declared purpose, one the entry allows")
@click.option("--case-ref", default="", help="case reference (required from level L3)")
@output_options
@remote_options
def query(dataset: str, fields: tuple[str, ...], where: tuple[str, ...],
          order_by: tuple[str, ...], limit: int | None, unmask: tuple[str, ...], purpose: str,
          case_ref: str, fmt: str | None, out: Path | None, url: str, token_file: Path | None,
          allow_http: bool, **flags: bool) -> None:  # fmt: skip
    """Query a catalog entry through a gateway and save the result."""
    from gateway.cli.download import fetch, report

    output = output_from(fmt, out, **flags)
    remote = remote_from(url, token_file, allow_http)
    body: dict[str, Any] = {
        "fields": split_fields(fields),
        "where": parse_where(where),
        "order_by": split_fields(order_by),
        "unmask": split_fields(unmask),
        "purpose": purpose,
        "case_ref": case_ref,
    }
    if limit is not None:
        body["limit"] = limit
    path = f"/api/v1/datasets/{quote(dataset, safe='')}/query"
    received = fetch(remote, path, body, output, label=dataset)
    report(received, output)
