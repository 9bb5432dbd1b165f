"""Which accounts' health inputs changed, and at which data version: what lets a stored scoring stay current.

`account_changes` holds, per account, the `rollup_state.version` of the latest write that touched its health
inputs. Database triggers (installed by migration 0010) record every INSERT, UPDATE and DELETE on accounts,
revenue, surveys and tickets, whatever process wrote it; usage rows are recorded by `refresh_rollups` from the
dirty slices it recomputes (`mark_changed`), since usage reaches health only through the rollups.

Ordering: each recording trigger bumps `rollup_state.version` itself and records the bumped value, so a write's
recorded version is above every version read before it committed and at most the version read after it
committed (the bump is an UPDATE of one row: concurrent writers queue on its row lock until commit). A scoring
stored with the version it read before scoring is therefore stale exactly when its account has a later change.
TRUNCATE (Postgres) records every account.
"""

from __future__ import annotations

from sqlalchemy import Connection, Select, literal, select
from sqlalchemy.dialects import postgresql, sqlite

from storage.models import account_changes

TRACKED_TABLES = ("accounts", "revenue", "surveys", "tickets")
"""The data tables with a health input and an account_id (usage goes through the rollups' refresh)."""

_PG_UPSERT = ("ON CONFLICT (account_id) DO UPDATE SET version = EXCLUDED.version")


def _pg_function(name: str, rows: tuple[str, ...]) -> str:
    selects = " UNION ".join(f"SELECT account_id FROM {r}" for r in rows)
    body = (
        "DECLARE v BIGINT; BEGIN UPDATE rollup_state SET version = version + 1 RETURNING version INTO v;"
        f" IF v IS NOT NULL THEN INSERT INTO account_changes (account_id, version) SELECT DISTINCT account_id, v FROM"
        f" ({selects}) AS touched WHERE account_id IS NOT NULL {_PG_UPSERT}; END IF; RETURN NULL; END"
    )
    return f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ {body} $$"


def _postgres_sql() -> list[str]:
    stmts = [
        _pg_function("csbot_changes_new", ("csbot_new_rows",)),
        _pg_function("csbot_changes_old", ("csbot_old_rows",)),
        _pg_function("csbot_changes_both", ("csbot_old_rows", "csbot_new_rows")),
        _pg_function("csbot_changes_all", ("accounts",)),
    ]
    for t in TRACKED_TABLES:
        stmts += [
            f"CREATE TRIGGER csbot_{t}_chg_ai AFTER INSERT ON {t} REFERENCING NEW TABLE AS csbot_new_rows"
            " FOR EACH STATEMENT EXECUTE FUNCTION csbot_changes_new()",
            f"CREATE TRIGGER csbot_{t}_chg_ad AFTER DELETE ON {t} REFERENCING OLD TABLE AS csbot_old_rows"
            " FOR EACH STATEMENT EXECUTE FUNCTION csbot_changes_old()",
            f"CREATE TRIGGER csbot_{t}_chg_au AFTER UPDATE ON {t} REFERENCING OLD TABLE AS csbot_old_rows"
            " NEW TABLE AS csbot_new_rows FOR EACH STATEMENT EXECUTE FUNCTION csbot_changes_both()",
            f"CREATE TRIGGER csbot_{t}_chg_at AFTER TRUNCATE ON {t} FOR EACH STATEMENT"
            " EXECUTE FUNCTION csbot_changes_all()",
        ]
    return stmts


def _sqlite_sql() -> list[str]:
    def record(row: str) -> str:
        return ("UPDATE rollup_state SET version = version + 1; INSERT INTO account_changes (account_id, version)"
                f" SELECT {row}.account_id, version FROM rollup_state WHERE {row}.account_id IS NOT NULL"
                " ON CONFLICT (account_id) DO UPDATE SET version = excluded.version;")

    stmts = []
    for t in TRACKED_TABLES:
        stmts += [
            f"CREATE TRIGGER IF NOT EXISTS csbot_{t}_chg_ai AFTER INSERT ON {t} BEGIN {record('NEW')} END",
            f"CREATE TRIGGER IF NOT EXISTS csbot_{t}_chg_ad AFTER DELETE ON {t} BEGIN {record('OLD')} END",
            f"CREATE TRIGGER IF NOT EXISTS csbot_{t}_chg_au AFTER UPDATE ON {t} BEGIN {record('OLD')}"
            f" {record('NEW')} END",
        ]
    return stmts


def install_change_triggers(conn: Connection) -> None:
    """Create the triggers that record changed accounts (migration 0010)."""
    for statement in _postgres_sql() if conn.dialect.name == "postgresql" else _sqlite_sql():
        conn.exec_driver_sql(statement)


def drop_change_triggers(conn: Connection) -> None:
    """Remove what `install_change_triggers` created (downgrade)."""
    postgres = conn.dialect.name == "postgresql"
    for t in TRACKED_TABLES:
        for short in ("ai", "ad", "au", "at") if postgres else ("ai", "ad", "au"):
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS csbot_{t}_chg_{short}" + (f" ON {t}" if postgres else ""))
    if postgres:
        for fn in ("new", "old", "both", "all"):
            conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS csbot_changes_{fn}()")


def mark_changed(conn: Connection, account_ids: Select, version: int) -> None:
    """Record the accounts of `account_ids` (a SELECT of one column) as changed at `version`."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    ids = account_ids.subquery().c[0]
    rows = select(ids, literal(version)).where(ids.is_not(None)).distinct()
    stmt = dialect.insert(account_changes).from_select(["account_id", "version"], rows)
    conn.execute(stmt.on_conflict_do_update(index_elements=["account_id"], set_={"version": stmt.excluded.version}))
