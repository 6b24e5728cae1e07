"""Checks of ``SLUICE_HOME`` (``docs/deploy.md``, "What lives in SLUICE_HOME").

The doctor runs as the gateway's service user, so "owned" means owned by the user
running it. Everything under ``keys/`` (the keys and their ``current`` pointers) and the
alert state and outbox are created 0600 in 0700 folders (``catalog.private_files``) and
must stay so; the other evidence files at the top (witness, seal) may be readable but
never writable by others: whoever can append to them can forge a seal or silence an
alert.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from catalog.private_files import KEY_BYTES, RefusedFile, read_own
from gateway.cli.doctor.report import GUIDE, Context, Result, fail, fingerprint, ok, skip

# private keys and secrets under keys/ (the "current" pointers there name public key ids)
SECRET_SUFFIXES = (".pem", ".key", ".secret")
# files at the top of the home that are created 0600 (``catalog.private_files``); the
# lock files among them because ``flock`` needs only a read: whoever can open one can
# hold it for ever (the rule process at its next alert, the pusher, an unseal; red team 23)
PRIVATE_TOP = ("alerts-state.jsonl", "alerts-outbox.jsonl", "alerts-state.lock",
               "alerts-outbox.lock", "audit-seal.jsonl.lock")  # fmt: skip
# secrets every replica must share (same bytes), by path under the home
SHARED_SECRETS = {
    "keys/mask.secret": "mask secret",
    "keys/console.secret": "console key",
    "keys/issuer/signing-key.pem": "issuer key",
}


def check_home(ctx: Context) -> list[Result]:
    home = Path(ctx.need().home)
    if not home.is_dir():
        return [fail("home", f"{home} does not exist",
                     f"create it 0700, owned by the gateway's service user ({GUIDE})")]  # fmt: skip
    problems = _walk(home)
    if problems:
        return [fail("key files", problem, fix) for problem, fix in problems]
    keys = [p for p in (home / "keys").rglob("*") if p.suffix in SECRET_SUFFIXES]
    return [ok("key files", f"{home}: {len(keys)} key files, private to uid {os.geteuid()}; "
               "nothing writable by others")]  # fmt: skip


def _walk(home: Path) -> list[tuple[str, str]]:
    """Every path under the home whose owner or mode breaks the rule for its kind."""
    problems = []
    uid = os.geteuid()
    for path in [home, *sorted(home.rglob("*"))]:
        try:
            info = path.stat()  # a link is judged by what it points at
        except OSError:
            problems.append((f"{path} cannot be read (a dangling link?)", f"remove {path}"))
            continue
        keys = home / "keys"
        private = path == keys or keys in path.parents or path in [home / n for n in PRIVATE_TOP]
        secret = keys in path.parents and path.suffix in SECRET_SUFFIXES
        mode = stat.S_IMODE(info.st_mode)
        if info.st_uid != uid:
            problems.append((f"{path} is owned by uid {info.st_uid}, not uid {uid} (who runs "
                             "the doctor, as the gateway should)",
                             f"chown {uid} {path}, or run the doctor as the gateway's "
                             "user"))  # fmt: skip
        if secret and mode & 0o077:
            problems.append((f"{path} is readable by other users (mode {mode:04o})",
                             f"chmod 600 {path}"))  # fmt: skip
        elif private and mode & 0o077:
            wanted = "700" if stat.S_ISDIR(info.st_mode) else "600"
            problems.append((f"{path} is open to other users (mode {mode:04o}, want {wanted})",
                             f"chmod {wanted} {path}"))  # fmt: skip
        elif mode & 0o022:
            problems.append((f"{path} is writable by other users (mode {mode:04o})",
                             f"chmod go-w {path}"))  # fmt: skip
    return problems


def check_shared_secrets(ctx: Context) -> list[Result]:
    """Fingerprints of what every replica must hold identically, for the operator to
    compare across hosts (the doctor sees one host)."""
    home = Path(ctx.need().home)
    shown = []
    for relative, name in SHARED_SECRETS.items():
        path = home / relative
        try:  # never through a link nor from a FIFO the home's owner left there
            shown.append(f"{name} {fingerprint(read_own(path, limit=KEY_BYTES))}")
        except FileNotFoundError:
            continue
        except RefusedFile as exc:
            hint = f"remove it and copy the file from another replica ({GUIDE})"
            return [fail("shared secrets", str(exc), hint)]
        except OSError as exc:
            return [fail("shared secrets", f"cannot read {path}: {type(exc).__name__}",
                         f"run the doctor as the gateway's service user ({GUIDE})")]  # fmt: skip
    masters = home / "keys" / "master"
    files = sorted(p.stem for p in masters.glob("*.key")) if masters.is_dir() else []
    if files:
        shown.append(f"master key files {', '.join(files)}")
    if not shown:
        return [skip("shared secrets", "none created yet (the first start creates them: copy "
                     "them to every replica before the others start)")]  # fmt: skip
    return [ok("shared secrets", "; ".join(shown) + " (the same on every replica)")]


def check_seal(ctx: Context) -> list[Result]:
    from audit.seal import SealStore

    seal = SealStore(Path(ctx.need().home))
    if seal.sealed:
        return [fail("seal", f"the audit trail is sealed: {seal.reason}",
                     "a security officer exports the evidence, then an officer and an admin "
                     "each call POST /api/v1/audit/unseal (README, audit trail)")]  # fmt: skip
    return [ok("seal", f"not sealed (epoch {seal.epoch.number})")]


BEAT_STALE_S = 30.0  # six missed beats (one every 5 s)


def check_alert_rules(ctx: Context) -> list[Result]:
    """The rule process of this home wrote its beat lately: alerts silenced by a rule
    process that crashes, or that nobody started beside a gateway told ``external``,
    look like a quiet day everywhere else."""
    from datetime import UTC, datetime

    from audit.alert_watch import beat_age_s, read_beat, rules_elsewhere

    settings = ctx.need()
    home = Path(settings.home)
    age = beat_age_s(home, datetime.fromtimestamp(ctx.clock(), UTC))
    start = "run `sluice serve` (it starts one) or `sluice alerts run` for this home"
    if age is None:
        if settings.alert_runner == "external":
            return [fail("alert rules", "SLUICE_ALERT_RUNNER=external and no rule process "
                         "has run for this home", start)]  # fmt: skip
        if rules_elsewhere(home):  # `sluice serve --alerts none|process`: not in the env
            return [fail("alert rules", "the gateway last started on this home runs its "
                         "rules in a rule process, and none is running", start)]  # fmt: skip
        return [skip("alert rules", "no rule process seen for this home (rules in the "
                     "gateway's thread, or no gateway running)")]  # fmt: skip
    beat = read_beat(home) or {}
    pid = beat.get("pid")
    if age > BEAT_STALE_S:
        what = (f"has failed every evaluation for {age:.0f} s" if beat.get("failing_since")
                else f"was last seen {age:.0f} s ago")  # fmt: skip
        return [fail("alert rules", f"the rule process (pid {pid}) {what}: alerts are not "
                     "evaluated", f"see its log; {start}")]  # fmt: skip
    return [ok("alert rules", f"rule process pid {pid}, seen {age:.0f} s ago")]


def check_witness_file(ctx: Context) -> list[Result]:
    """The newest checkpoint this host witnessed is still in the chain: a database
    restored from an older backup, or a cut tail, fails here before the gateway seals."""
    from audit import witness
    from gateway.cli.doctor.database import fetch_one

    newest = witness.latest(witness.witness_path(Path(ctx.need().home)))
    if newest is None:
        return [skip("witness file", "no checkpoint witnessed on this host yet")]
    if ctx.connection() is None:
        return [skip("witness file", "no database connection (see database)")]
    mark = "?" if ctx.dialect == "sqlite" else "%s"
    seq, hash_hex = int(newest["seq"]), str(newest["hash"])
    row = fetch_one(ctx, f"SELECT hash FROM audit_events WHERE seq = {mark}", (seq,))
    if row is None or row[0] != hash_hex:
        found = "missing" if row is None else "different"
        return [fail("witness file", f"the chain's event {seq} is {found}, but this host "
                     "witnessed it: events were cut or rewritten, or the database was "
                     "restored from an older backup",
                     f"do not serve: run `sluice audit verify` and follow {GUIDE}, "
                     "Restoring a backup")]  # fmt: skip
    return [ok("witness file", f"the chain holds checkpoint {seq} witnessed here")]
