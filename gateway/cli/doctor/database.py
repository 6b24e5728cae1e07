"""Checks of the catalog and audit database (``docs/deploy.md``, "PostgreSQL").

Everything runs as the role the gateway connects as, in transactions that are rolled
back. The role checks read the catalogs (``rolsuper``; ``rolcreaterole``, since up to
PostgreSQL 15 a role with CREATEROLE grants itself the owner role; ``has_table_privilege``,
ownership) *and* probe: ``UPDATE … WHERE false`` is refused at planning time when the
privilege is missing, touches no row when it is not, and is rolled back either way — so
the doctor proves what the guide says without changing anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.cli.doctor.report import GUIDE, Context, Result, fail, ok, skip

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from pydantic import SecretStr

AUDIT_TABLES = ("audit_events", "audit_checkpoints", "audit_keys")
# trigger name suffix -> pg_trigger.tgtype: ROW 1, BEFORE 2, DELETE 8, UPDATE 16, TRUNCATE 32
PG_TRIGGERS = {"append_only": 1 | 2 | 8 | 16, "no_truncate": 2 | 32}
SQLITE_TRIGGERS = ("no_update", "no_delete")
# what audit/migrations/versions/0002_audit.py makes each SQLite trigger (white space
# folded): the name alone said nothing — one kept as ``AFTER INSERT … SELECT 1`` or
# given ``WHEN 0`` refused nothing and passed (red team 56)
SQLITE_TRIGGER_SQL = (
    "CREATE TRIGGER {table}_no_{verb_lower} BEFORE {verb} ON {table} "
    "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END"
)
# the body audit/migrations/versions/0002_audit.py gives the triggers' function; a
# function replaced by one that lets changes through leaves the triggers in place
REFUSE_BODY = (
    "BEGIN RAISE EXCEPTION 'the audit trail is append-only (% on %)', TG_OP, TG_TABLE_NAME; END"
)
CATALOG_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")
TABLE_PRIVILEGES = (*CATALOG_PRIVILEGES, "TRUNCATE", "TRIGGER")
# UPDATE granted on one column is UPDATE all the same (red team 22: ``GRANT UPDATE (body)
# ON audit_events`` passed has_table_privilege and the probes, which update other columns)
_PRIVILEGE_TEST = {"UPDATE": "has_any_column_privilege"}
# what the runtime role must be refused, tried in a rolled-back transaction
PROBES = (
    *((f"UPDATE {t}", f"UPDATE {t} SET {c} = {c} WHERE false")
      for t, c in (("audit_events", "hash"), ("audit_checkpoints", "hash"), ("audit_keys", "kid"))),
    *((f"DELETE FROM {t}", f"DELETE FROM {t} WHERE false") for t in AUDIT_TABLES),
    ("switch the triggers off", "SET LOCAL session_replication_role = replica"),
)  # fmt: skip
# predefined roles that act as the server's OS user (red team 56: neither superuser nor
# CREATEROLE, no table privilege, every probe refused — yet ``COPY … TO PROGRAM 'psql …'``
# signs in as the superuser by the usual peer line and makes the gateway's role one)
SERVER_ROLES = ("pg_execute_server_program", "pg_read_server_files", "pg_write_server_files")
# powers beyond the audit tables' privileges the guide's runtime role is not given (red
# team 56's left row: the doctor read none of them): attribute or predefined role -> why
BEYOND_THE_TRAIL = {
    "REPLICATION": "it may copy the whole cluster (pg_basebackup) or decode every committed "
                   "change through a logical slot: every database's rows, outside any audit",
    "BYPASSRLS": "row-level policies do not bind it",
    "pg_signal_backend": "it may cancel or end other roles' sessions on the server (the "
                         "owner's migration, a monitor's connection)",
    "pg_read_all_data": "it reads every table of every database of the server, the "
                        "departments' sources there included",
    # red team 60: three more the doctor passed
    "CREATEDB": "it may make databases of its own on the server, outside every check here",
    "pg_read_all_stats": "it reads every session's current statement (pg_stat_activity), "
                         "other roles' included: a migration's, a DBA's ALTER ROLE ... PASSWORD",
    "pg_write_all_data": "it writes every table of every database of the server, the "
                         "departments' sources there included",
}  # fmt: skip
ROLES_FIX = f"connect as the runtime role made by roles.sql and grants.sql ({GUIDE}, roles)"
GRANTS_FIX = f"run grants.sql as the owner role, after every migration ({GUIDE}, roles)"


def _no_connection(ctx: Context, check: str) -> list[Result] | None:
    if ctx.connection() is None:
        return [skip(check, "no database connection (see database)")]
    return None


def check_database(ctx: Context) -> list[Result]:
    from sqlalchemy.engine import make_url

    from gateway.cli.doctor.config import describe_url

    parsed = make_url(ctx.url)
    shown = describe_url(ctx.url)
    if parsed.get_backend_name() == "sqlite":
        if ctx.production:
            return [fail("database", f"{shown} is SQLite: one host, and no database role "
                         "keeps the gateway from dropping the audit triggers",
                         f"set SLUICE_DATABASE_URL=postgresql+psycopg://… ({GUIDE})")]  # fmt: skip
        out = [ok("database", f"{shown} (development)")]
    elif parsed.drivername != "postgresql+psycopg":
        return [fail("database", f"{shown}: driver {parsed.drivername!r}",
                     "write the URL as postgresql+psycopg://user:password@host:5432/db "
                     "(psycopg 3, the driver Sluice installs)")]  # fmt: skip
    else:
        out = []
    if ctx.connect_error is not None:
        return [fail("database", f"{shown}: cannot connect: {ctx.connect_error}",
                     "check the host, port, database name and the role's password")]  # fmt: skip
    if ctx.dialect == "postgresql":
        with ctx.transaction() as cur:
            cur.execute(
                "SELECT current_user, current_database(), current_setting('server_version')"
            )
            user, db, version = cur.fetchone()
        out.append(ok("database", f"{shown}: connected as {user} to {db} (PostgreSQL {version})"))
    return out


def check_schema(ctx: Context) -> list[Result]:
    from alembic.script import ScriptDirectory

    from catalog.db import alembic_config

    skipped = _no_connection(ctx, "schema")
    if skipped:
        return skipped
    heads = set(ScriptDirectory.from_config(alembic_config(ctx.url)).get_heads())
    fix = f"run the migrations with the owner role, then grants.sql ({GUIDE}, upgrades)"
    try:
        with ctx.transaction() as cur:
            cur.execute("SELECT version_num FROM alembic_version")
            current = {row[0] for row in cur.fetchall()}
    except _driver_errors() as exc:
        return [fail("schema", f"not migrated ({type(exc).__name__})", fix)]
    if current != heads:
        return [fail("schema", f"at {sorted(current)}, the code expects {sorted(heads)}", fix)]
    return [ok("schema", f"at the newest revision ({', '.join(sorted(heads))})")]


def check_durability(ctx: Context) -> list[Result]:
    from audit.store import AuditStore, StoreNotDurable

    skipped = _no_connection(ctx, "durability")
    if skipped:
        return skipped
    try:
        AuditStore(ctx.url, timeout_s=ctx.timeout_s).check_durable(ctx.connection())
    except StoreNotDurable as exc:
        return [fail("durability", exc.message, "PostgreSQL: fsync=on and synchronous_commit="
                     "on (the gateway refuses to start otherwise)")]  # fmt: skip
    how = "WAL, synchronous=FULL" if ctx.dialect == "sqlite" else "fsync, synchronous commit"
    return [ok("durability", f"a committed audit event survives a crash ({how})")]


def check_triggers(ctx: Context) -> list[Result]:
    skipped = _no_connection(ctx, "audit triggers")
    if skipped:
        return skipped
    postgres = ctx.dialect == "postgresql"
    problems = _pg_trigger_problems(ctx) if postgres else _sqlite_trigger_problems(ctx)
    fix = ("re-create them as the owner role (audit/migrations/versions/0002_audit.py), then "
           "run `sluice audit verify`: who dropped them could have rewritten events")  # fmt: skip
    if problems:
        return [fail("audit triggers", problem, fix) for problem in problems]
    verbs = "UPDATE, DELETE, TRUNCATE" if postgres else "UPDATE, DELETE"
    return [ok("audit triggers", f"{verbs} refused on {', '.join(AUDIT_TABLES)}")]


def _pg_trigger_problems(ctx: Context) -> list[str]:
    with ctx.transaction() as cur:
        cur.execute(
            # tgqual (a WHEN clause) and tgattr (UPDATE OF columns) narrow when a trigger
            # fires while its name, type, state and function stay (red team 56)
            "SELECT c.relname, t.tgname, t.tgenabled, t.tgtype, p.proname, p.prosrc, "
            "t.tgqual IS NOT NULL OR cardinality(t.tgattr::int2[]) > 0 "
            "FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_proc p ON p.oid = t.tgfoid "
            "WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace "
            "AND c.relname = ANY(%s)",
            (list(AUDIT_TABLES),),
        )
        found = {(row[0], row[1]): row[2:] for row in cur.fetchall()}
        # a rewrite rule acts as a trigger does (``ON INSERT … DO INSTEAD NOTHING``: an
        # append that reports success and stores nothing) and none is made (red team 56)
        cur.execute("SELECT tablename, rulename FROM pg_rules WHERE schemaname = "
                    "current_schema() AND tablename = ANY(%s) ORDER BY 1, 2",
                    (list(AUDIT_TABLES),))  # fmt: skip
        rules = cur.fetchall()
    problems = [f"unexpected rule {name} on {table}: it could drop or change events as "
                "they are written" for table, name in rules]  # fmt: skip
    for table in AUDIT_TABLES:
        for suffix, tgtype in PG_TRIGGERS.items():
            name = f"{table}_{suffix}"
            row = found.get((table, name))
            if row is None:
                problems.append(f"trigger {name} on {table} is missing")
                continue
            enabled, kind, function, body, narrowed = row
            if enabled not in ("O", "A"):  # D: disabled; R: fires only on replicas
                problems.append(f"trigger {name} on {table} is disabled ({enabled})")
            elif kind != tgtype or narrowed:
                problems.append(f"trigger {name} on {table} no longer fires before every change")
            elif function != "audit_refuse_change" or " ".join(body.split()) != REFUSE_BODY:
                problems.append(f"trigger {name} on {table} calls a function that does not "
                                "refuse the change")  # fmt: skip
    expected = {(t, f"{t}_{suffix}") for t in AUDIT_TABLES for suffix in PG_TRIGGERS}
    for table, name in sorted(set(found) - expected):
        # e.g. BEFORE INSERT … RETURN NULL: appends that report success and store nothing
        problems.append(f"unexpected trigger {name} on {table}: it could drop or change "
                        "events as they are written")  # fmt: skip
    return problems


def _sqlite_trigger_problems(ctx: Context) -> list[str]:
    """Each trigger as the migration made it, word for word, and no other trigger on the
    audit tables (a ``BEFORE INSERT … RAISE(IGNORE)`` drops events as they are written)."""
    with ctx.transaction() as cur:
        cur.execute("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'")
        found = {row[0]: (row[1], " ".join(str(row[2] or "").split())) for row in cur.fetchall()}
    problems = []
    for table in AUDIT_TABLES:
        for verb in ("UPDATE", "DELETE"):
            name = f"{table}_no_{verb.lower()}"
            want = SQLITE_TRIGGER_SQL.format(table=table, verb=verb, verb_lower=verb.lower())
            if name not in found:
                problems.append(f"trigger {name} on {table} is missing")
            elif found[name] != (table, want):
                problems.append(f"trigger {name} on {table} no longer refuses every {verb}")
    expected = {f"{t}_{suffix}" for t in AUDIT_TABLES for suffix in SQLITE_TRIGGERS}
    for name, (table, _sql) in sorted(found.items()):
        if table in AUDIT_TABLES and name not in expected:
            problems.append(f"unexpected trigger {name} on {table}: it could drop or change "
                            "events as they are written")  # fmt: skip
    return problems


def check_runtime_role(ctx: Context) -> list[Result]:
    """The role the gateway connects as cannot change or unprotect the audit tables."""
    if ctx.dialect != "postgresql":
        detail = "SQLite has no roles: whoever can write the file can drop the triggers"
        if ctx.production:
            return [fail("runtime role", detail, f"use PostgreSQL ({GUIDE})")]
        return [skip("runtime role", detail)]
    skipped = _no_connection(ctx, "runtime role")
    if skipped:
        return skipped
    with ctx.transaction() as cur:
        cur.execute("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")
        user, superuser = cur.fetchone()
        # roles it is, or may SET ROLE to, that are superusers or may grant themselves
        # any role (CREATEROLE, up to PostgreSQL 15): either way it becomes the owner
        cur.execute("SELECT rolname FROM pg_roles WHERE (rolsuper OR rolcreaterole) "
                    "AND pg_has_role(current_user, oid, 'MEMBER') ORDER BY rolname")  # fmt: skip
        powerful = [row[0] for row in cur.fetchall()]
        server = _members_of(cur, SERVER_ROLES)
        beyond = _beyond_the_trail(cur)
    if superuser:
        return [fail("runtime role", f"{user} is a superuser: it can switch the audit "
                     "triggers off (session_replication_role)", ROLES_FIX)]  # fmt: skip
    problems = (_privilege_problems(ctx) + _database_problems(ctx) + _definer_problems(ctx)
                + _probe_problems(ctx))  # fmt: skip
    problems[:0] = [(f"has {power}: {why}", ROLES_FIX) for power, why in beyond]
    if server:
        problems.insert(0, (f"is or may become {', '.join(server)}: it runs commands or "
                            "reads and writes files as the database server's OS user "
                            "(COPY … PROGRAM, COPY … TO a file), who owns the data "
                            "directory and signs in as the superuser", ROLES_FIX))  # fmt: skip
    if powerful:
        problems.insert(0, (f"is or may become {', '.join(powerful)}, with SUPERUSER or "
                            "CREATEROLE: it can grant itself the owner role (GRANT … TO "
                            "itself; SET ROLE) and switch the audit triggers off",
                            ROLES_FIX))  # fmt: skip
    if problems:
        return [fail("runtime role", f"{user}: {problem}", fix) for problem, fix in problems]
    return [ok("runtime role", f"{user} may read and append the audit trail, never UPDATE, "
               "DELETE, TRUNCATE it or switch its triggers off")]  # fmt: skip


def _beyond_the_trail(cur: Any) -> list[tuple[str, str]]:
    """The ``BEYOND_THE_TRAIL`` powers of the role or of any role it is or may become
    (``SET ROLE`` takes a member's attributes)."""
    cur.execute("SELECT coalesce(bool_or(rolreplication), false), "
                "coalesce(bool_or(rolbypassrls), false), "
                "coalesce(bool_or(rolcreatedb), false) FROM pg_roles "
                "WHERE pg_has_role(current_user, oid, 'MEMBER')")  # fmt: skip
    replication, bypassrls, createdb = cur.fetchone()
    members = set(_members_of(cur, [name for name in BEYOND_THE_TRAIL if name.startswith("pg_")]))
    held = {"REPLICATION": replication, "BYPASSRLS": bypassrls, "CREATEDB": createdb}
    return [(power, why) for power, why in BEYOND_THE_TRAIL.items()
            if held.get(power) or power in members]  # fmt: skip


def _members_of(cur: Any, roles: Sequence[str]) -> list[str]:
    """Those of ``roles`` the role is, or may ``SET ROLE`` to, sorted."""
    cur.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s) "
                "AND pg_has_role(current_user, oid, 'MEMBER') ORDER BY rolname",
                (list(roles),))  # fmt: skip
    return [row[0] for row in cur.fetchall()]


def _needed(table: str) -> frozenset[str]:
    """What the gateway does to each table: appends to the trail, reads its schema
    version, and reads and writes the catalog."""
    if table in AUDIT_TABLES:
        return frozenset({"SELECT", "INSERT"})
    if table == "alembic_version":
        return frozenset({"SELECT"})
    return frozenset(CATALOG_PRIVILEGES)


def _read_privileges(ctx: Context) -> tuple[list[Any], list[str], bool]:
    """Per table (name, owned, each of ``TABLE_PRIVILEGES``), the sequences the role
    cannot use, and whether it may create objects in the schema (its tables' schema or
    any schema of its search path: an unqualified name takes the first match)."""
    target = "quote_ident(schemaname) || '.' || quote_ident({})"
    with ctx.transaction() as cur:
        cur.execute(
            "SELECT tablename, pg_has_role(current_user, tableowner, 'MEMBER'), "
            + ", ".join(f"{_PRIVILEGE_TEST.get(p, 'has_table_privilege')}(current_user, "
                        f"{target.format('tablename')}, '{p}')" for p in TABLE_PRIVILEGES)
            + " FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
        )  # fmt: skip
        tables = cur.fetchall()
        cur.execute(
            "SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema() AND NOT "
            f"has_sequence_privilege(current_user, {target.format('sequencename')}, 'USAGE')"
        )
        sequences = [row[0] for row in cur.fetchall()]
        cur.execute(
            "SELECT bool_or(has_schema_privilege(current_user, n, 'CREATE')) "
            "FROM unnest(current_schemas(false) || current_schema()::name) AS n"
        )
        can_create = bool(cur.fetchone()[0])
    return tables, sequences, can_create


def _database_problems(ctx: Context) -> list[tuple[str, str]]:
    """What the role may create beside the guide's schema. ``CREATE`` on the database
    makes schemas: one named after the role comes first in the default search path
    (``"$user", public``), so tables it owns there, without the audit triggers, stand in
    for the gateway's own under the same unqualified names (red team 6). ``TEMP`` makes
    ``pg_temp`` tables (the guide withholds it; they shadow names in that session only).
    A schema of the search path the
    role owns (or whose owner it may become) is that shadow already made."""
    with ctx.transaction() as cur:
        cur.execute(
            "SELECT has_database_privilege(current_user, current_database(), 'CREATE'), "
            "has_database_privilege(current_user, current_database(), 'TEMP'), "
            "ARRAY(SELECT nspname FROM pg_namespace WHERE nspname = ANY(current_schemas(false)) "
            "AND pg_has_role(current_user, nspowner, 'MEMBER') ORDER BY nspname)"
        )
        create, temp, owned = cur.fetchone()
    problems: list[tuple[str, str]] = []
    if create:
        problems.append(("may CREATE schemas in the database: a schema named after the role "
                         "comes before public in the search path, and tables it owns there, "
                         "without the audit triggers, would take the audit tables' names",
                         ROLES_FIX))  # fmt: skip
    if temp:
        problems.append(("may create TEMP tables in the database, which the guide "
                         "withholds", ROLES_FIX))  # fmt: skip
    if owned:
        problems.append(
            (
                f"owns schema {', '.join(owned)} of its search path: its tables "
                "there stand in for the gateway's own (drop it, as the owner role, "
                "after checking the trail with `sluice audit verify`)",
                ROLES_FIX,
            )
        )
    return problems


def _table_problems(tables: list[Any]) -> list[tuple[str, str]]:
    """Tables owned (an owner holds every privilege: one line says it all), and
    privileges beyond or short of what the gateway does to each table."""
    owned: list[str] = []
    extra: dict[str, list[str]] = {}
    missing: dict[str, list[str]] = {}
    for name, owner, *flags in tables:
        if owner:
            owned.append(name)
            continue
        has = {p for p, flag in zip(TABLE_PRIVILEGES, flags, strict=True) if flag}
        needed = _needed(name)
        if has - needed:
            extra.setdefault(", ".join(p for p in TABLE_PRIVILEGES if p in has - needed),
                             []).append(name)  # fmt: skip
        if needed - has:
            missing.setdefault(", ".join(p for p in TABLE_PRIVILEGES if p in needed - has),
                               []).append(name)  # fmt: skip
    problems: list[tuple[str, str]] = []
    if owned:
        audit = [t for t in owned if t in AUDIT_TABLES]
        named = f"{', '.join(audit)} among them" if audit else ", ".join(owned)
        problems.append((f"owns {len(owned)} tables ({named}) or is a member of their owner "
                         "role: it can disable or drop their triggers",
                         ROLES_FIX))  # fmt: skip
    problems += [(f"may {rights} {', '.join(names)}", GRANTS_FIX)
                 for rights, names in extra.items()]  # fmt: skip
    problems += [(f"lacks {rights} on {', '.join(names)}", GRANTS_FIX)
                 for rights, names in missing.items()]  # fmt: skip
    return problems


def _privilege_problems(ctx: Context) -> list[tuple[str, str]]:
    tables, sequences, can_create = _read_privileges(ctx)
    problems = _table_problems(tables)
    if sequences:
        problems.append((f"lacks USAGE on sequences {', '.join(sequences)}", GRANTS_FIX))
    if can_create:
        problems.append(("may create objects in the schema (tables, functions)", ROLES_FIX))
    return problems


# SECURITY DEFINER functions run as a role the runtime role is not ("{not_mine}"), that
# its writes fire: a trigger's function is checked for EXECUTE when the trigger is made,
# never when it fires, so revoking EXECUTE from PUBLIC keeps it firing (red team 57);
# an event trigger fires on the DDL any role may do (CREATE TEMP TABLE)
_NOT_MINE = "p.prosecdef AND NOT pg_has_role(current_user, p.proowner, 'MEMBER')"
_WRITES = " OR ".join(
    f"{_PRIVILEGE_TEST.get(p, 'has_table_privilege')}(current_user, c.oid, '{p}')"
    for p in ("INSERT", "UPDATE", "DELETE", "TRUNCATE")
)
_FIRED_DEFINERS = (
    "SELECT DISTINCT n.nspname || '.' || p.proname, pg_get_userbyid(p.proowner) "
    "FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
    "JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_namespace n ON n.oid = p.pronamespace "
    f"WHERE NOT t.tgisinternal AND {_NOT_MINE} AND ({_WRITES}) "
    "UNION SELECT n.nspname || '.' || p.proname, pg_get_userbyid(p.proowner) "
    "FROM pg_event_trigger e JOIN pg_proc p ON p.oid = e.evtfoid "
    f"JOIN pg_namespace n ON n.oid = p.pronamespace WHERE e.evtenabled <> 'D' AND {_NOT_MINE} "
    "ORDER BY 1"
)


def _definer_problems(ctx: Context) -> list[tuple[str, str]]:
    """``SECURITY DEFINER`` functions the role may call, or fires as a trigger on a table
    it writes (or as an event trigger), that run as a role it is not (outside the system
    schemas): whatever they do, its credentials do. Functions are executable by
    ``PUBLIC`` unless revoked, so an owner's ``tidy()`` that switches a trigger off and
    deletes gave every gateway host the owner's rights while each probe was still
    refused (red team 56); made a trigger function with EXECUTE revoked, the runtime
    role's INSERT fired it all the same (red team 57)."""
    with ctx.transaction() as cur:
        cur.execute(
            "SELECT n.nspname || '.' || p.proname, pg_get_userbyid(p.proowner) "
            "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            f"WHERE {_NOT_MINE} AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
            "AND has_function_privilege(current_user, p.oid, 'EXECUTE') ORDER BY 1"
        )
        called = cur.fetchall()
        cur.execute(_FIRED_DEFINERS)
        fired = cur.fetchall()
    fix = ("drop it, or REVOKE EXECUTE ON FUNCTION {name} FROM PUBLIC and from the runtime "
           f"role, as its owner ({GUIDE}, roles)")  # fmt: skip
    problems = [(f"may call {name}(), SECURITY DEFINER: it runs with {owner}'s rights",
                 fix.format(name=name)) for name, owner in called]  # fmt: skip
    problems += [(f"fires {name}(), SECURITY DEFINER, as a trigger of its writes: it runs "
                  f"with {owner}'s rights", f"drop the trigger, or make {name} SECURITY "
                  f"INVOKER, as its owner ({GUIDE}, roles)") for name, owner in fired]  # fmt: skip
    return problems


def _probe_problems(ctx: Context) -> list[tuple[str, str]]:
    """Try each forbidden change in a transaction that is rolled back."""
    import psycopg

    allowed: list[str] = []
    odd: list[str] = []
    with ctx.transaction() as cur:
        cur.execute("SET LOCAL lock_timeout = '1s'")
        for what, sql in PROBES:
            cur.execute("SAVEPOINT doctor_probe")
            try:
                cur.execute(sql)
                allowed.append(what)
            except psycopg.errors.InsufficientPrivilege:
                pass
            except psycopg.Error as exc:
                odd.append(f"{what} ({type(exc).__name__})")
            cur.execute("ROLLBACK TO SAVEPOINT doctor_probe")
    problems = []
    if allowed:
        problems.append((f"was allowed to {'; '.join(allowed)} (tried, rolled back)", ROLES_FIX))
    if odd:
        problems.append((f"could not try {'; '.join(odd)}", ROLES_FIX))
    return problems


def check_master_keys_on_hand(ctx: Context) -> list[Result]:
    """Every master key that wraps a data key can be loaded here (a rotation on one
    replica writes a key file the others must be given)."""
    from pathlib import Path

    from adapters.credentials import FileMasterKeys
    from catalog.errors import Unavailable

    skipped = _no_connection(ctx, "master keys")
    if skipped:
        return skipped
    s = ctx.need()
    try:
        with ctx.transaction() as cur:
            cur.execute("SELECT master_kid, count(*) FROM data_keys GROUP BY master_kid")
            used = {str(kid): int(n) for kid, n in cur.fetchall()}
    except _driver_errors():
        return [skip("master keys", "no data_keys table yet (see schema)")]
    env = None if "master_key" in ctx.refused else s.master_key
    masters = FileMasterKeys(Path(s.home) / "keys" / "master", env, s.master_key_previous)
    missing = []
    for kid in sorted(used):
        try:
            masters.get(kid)
        except Unavailable:
            missing.append(f"{kid} ({used[kid]} data keys)")
    if missing:
        return [fail("master keys", f"not on this host: {', '.join(missing)}: sources whose "
                     "secrets they wrap cannot connect here",
                     "copy SLUICE_HOME/keys/master/ from the host that ran `sluice keys "
                     "rotate` (or set the SLUICE_MASTER_KEY, or SLUICE_MASTER_KEY_PREVIOUS, "
                     f"they were made with) ({GUIDE}, Keys)")]  # fmt: skip
    if env is not None and env.get_secret_value():
        beside = _home_keys_beside_env(Path(s.home) / "keys" / "master", used)
        if beside is not None:
            return [beside]
    retired = _previous_kid(s.master_key_previous)
    if retired is not None and retired not in used:  # red team 57
        return [fail("master keys", f"SLUICE_MASTER_KEY_PREVIOUS ({retired}) is still set though "
                     "no data key is wrapped by it any more: the key a rotation retired stays "
                     "in the gateway's environment", "remove SLUICE_MASTER_KEY_PREVIOUS from "
                     f"every replica's settings ({GUIDE}, Keys)")]  # fmt: skip
    if not used:
        return [ok("master keys", "no source secret stored yet")]
    return [ok("master keys", f"all {len(used)} wrapping {sum(used.values())} data keys are here")]


def _home_keys_beside_env(directory: Path, used: Mapping[str, int]) -> Result | None:
    """With SLUICE_MASTER_KEY set, a key file in SLUICE_HOME fails: one wrapping data
    keys (what `sluice keys rotate` once left, red team 56) or one wrapping none any
    more (what a rotation under the env key re-wrapped away from and said to delete:
    with a catalog backup from before it, the home alone opened the sources' secrets
    while the doctor said ok, red team 58). None when the home holds neither."""
    in_home = sorted(kid for kid in used if not kid.startswith("env-"))
    if in_home:
        return fail("master keys", f"{sum(used[k] for k in in_home)} data keys are wrapped "
                    f"by key files in SLUICE_HOME ({', '.join(in_home)}) although "
                    "SLUICE_MASTER_KEY is set: a copy of the home and a catalog dump open "
                    "the sources' secrets without the secret manager",
                    f"run `sluice keys rotate` to re-wrap them under SLUICE_MASTER_KEY, then "
                    f"delete those key files ({GUIDE}, Keys)")  # fmt: skip
    left = _retired_key_files(directory, used)
    if not left:
        return None
    return fail("master keys", f"master key files in SLUICE_HOME wrap no data key any more "
                f"({', '.join(left)}) though SLUICE_MASTER_KEY is set: kept there, a copy of "
                "the home and a catalog backup from before the rotation open the sources' "
                "secrets without the secret manager", "delete those key files from "
                f"SLUICE_HOME/keys/master on every replica ({GUIDE}, Keys)")  # fmt: skip


def _retired_key_files(directory: Path, used: Mapping[str, int]) -> list[str]:
    """The key ids of the master key files in ``directory`` that wrap no data key (what
    a rotation under SLUICE_MASTER_KEY re-wrapped away from, red team 58); an unreadable
    directory names none (``key files`` reports its permissions)."""
    try:
        return sorted(f.stem for f in directory.glob("*.key") if f.stem not in used)
    except OSError:
        return []


def _previous_kid(previous: SecretStr | None) -> str | None:
    """The key id ``SLUICE_MASTER_KEY_PREVIOUS`` names, None when it is not set."""
    from adapters.credentials import derive_master_key, env_kid

    if previous is None or not previous.get_secret_value():
        return None
    return env_kid(derive_master_key(previous.get_secret_value()))


def check_clock(ctx: Context) -> list[Result]:
    if ctx.dialect != "postgresql":
        return [skip("clock", "SQLite shares this host's clock")]
    skipped = _no_connection(ctx, "clock")
    if skipped:
        return skipped
    with ctx.transaction() as cur:
        before = ctx.clock()
        cur.execute("SELECT extract(epoch FROM clock_timestamp())")
        server = float(cur.fetchone()[0])
        after = ctx.clock()
    skew = server - (before + after) / 2
    bound = ctx.max_skew_s + (after - before) / 2
    if abs(skew) > bound:
        return [fail("clock", f"this host is {-skew:+.1f} s from the database server: events, "
                     "checkpoints and token lifetimes disagree between replicas",
                     "synchronise every host with NTP (chrony or systemd-timesyncd)")]  # fmt: skip
    return [ok("clock", f"within {abs(skew):.3f} s of the database server")]


def _driver_errors() -> tuple[type[BaseException], ...]:
    import sqlite3

    import psycopg

    return (sqlite3.Error, psycopg.Error)


def fetch_one(ctx: Context, sql: str, params: tuple[Any, ...] = ()) -> Any:
    """One row of a read, or None (for the home checks that compare with the chain)."""
    with ctx.transaction() as cur:
        cur.execute(sql, params)
        return cur.fetchone()
