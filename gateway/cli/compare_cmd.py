"""``sluice compare LEFT RIGHT``: match two catalog entries on a key, through a gateway;
``sluice compare run MODEL``: run a saved comparison model (``compare_run_cmd``).

``compare`` is a group whose sub-commands are named words (``run``); anything else
(``LEFT RIGHT …``, or options before them) is the pairwise comparison, as it always was.

Each side is ``DATASET:KEY`` — say the payroll and the subsistence-allowance roll on
the ID number. The gateway runs each side as a governed query and matches the keys as
HMAC tokens under the case key, so no ID number leaves it (``POST /api/v1/comparisons``);
the matches are saved like a query's result (``gateway.cli.download``).

    sluice compare finance.payroll:id_number civil.dibao_recipients:id_number \\
        --left-fields name,employer --right-fields region_code,monthly_amount \\
        --purpose supervision --case-ref JW-2026-017 --out matches.csv
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from gateway.cli.compare_run_cmd import due, run
from gateway.cli.remote import (
    output_from,
    output_options,
    parse_where,
    remote_from,
    remote_options,
    split_fields,
)


def _side(spec: str, fields: tuple[str, ...], where: tuple[str, ...], name: str) -> dict[str, Any]:
    dataset, sep, key = spec.rpartition(":")
    if not sep or not dataset or not key:
        raise click.BadParameter(f"{spec!r} is not DATASET:KEY", param_hint=name.upper())
    return {"dataset": dataset, "key": key, "fields": split_fields(fields),
            "where": parse_where(where, f"--{name}-where")}  # fmt: skip


class CompareGroup(click.Group):
    """``run`` (and any later sub-command) by name; everything else is the hidden
    ``pair`` command, so ``sluice compare LEFT RIGHT …`` keeps working."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["pair", *args]
        return super().parse_args(ctx, args)


@click.group("compare", cls=CompareGroup)
def compare() -> None:
    """Match two catalog entries on a key; save the matches.

    \b
    sluice compare LEFT RIGHT --purpose … --case-ref …  (LEFT, RIGHT: DATASET:KEY)
    sluice compare run MODEL --purpose … --case-ref … [--wait]
    sluice compare due  (your schedules that are due)"""


@compare.command("pair", hidden=True)
@click.argument("left")
@click.argument("right")
@click.option("--left-fields", multiple=True, help="left fields to show for each match")
@click.option("--right-fields", multiple=True, help="right fields to show for each match")
@click.option("--left-where", multiple=True, help="filter on the left side (JSON, as query's)")
@click.option("--right-where", multiple=True, help="filter on the right side (JSON)")
@click.option("--limit", type=click.IntRange(min=1), help="at most this many matches")
@click.option("--purpose", required=True, help="declared purpose, allowed by both entries")
@click.option("--case-ref", required=True, help="case reference (keys the match tokens)")
@output_options
@remote_options
def pair(left: str, right: str, left_fields: tuple[str, ...], right_fields: tuple[str, ...],
            left_where: tuple[str, ...], right_where: tuple[str, ...], limit: int | None,
            purpose: str, case_ref: str, fmt: str | None, out: Path | None, url: str,
            token_file: Path | None, allow_http: bool, **flags: bool) -> None:  # fmt: skip
    """Match two catalog entries on a key; save the matches.

    LEFT and RIGHT are DATASET:KEY, e.g. finance.payroll:id_number; the keys are
    matched as tokens under the case key, never sent in clear."""
    from gateway.cli.download import fetch, report

    output = output_from(fmt, out, **flags)
    body: dict[str, Any] = {
        "left": _side(left, left_fields, left_where, "left"),
        "right": _side(right, right_fields, right_where, "right"),
        "purpose": purpose,
        "case_ref": case_ref,
    }
    if limit is not None:
        body["limit"] = limit
    remote = remote_from(url, token_file, allow_http)
    received = fetch(remote, "/api/v1/comparisons", body, output,
                     label=f"{body['left']['dataset']} × {body['right']['dataset']}")  # fmt: skip
    report(received, output)


compare.add_command(run)
compare.add_command(due)
