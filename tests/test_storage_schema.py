"""The schema: migrations create every table, and the database itself enforces the contract."""

import datetime as dt

import pytest
from sqlalchemy import insert, inspect
from sqlalchemy.exc import IntegrityError

from storage.db import has_data, upgrade
from storage.models import Account, Survey


def test_migrations_create_every_table(store):
    names = set(inspect(store).get_table_names())
    assert {"accounts", "revenue", "invoices", "surveys", "tickets", "usage_events", "costs"} <= names
    assert not has_data(store)


def test_upgrade_twice_is_a_no_op(store):
    upgrade(store)
    upgrade(store)


def test_database_rejects_churn_without_conversion(store):
    with pytest.raises(IntegrityError), store.begin() as conn:
        conn.execute(
            insert(Account).values(
                account_id="a", name="A", signed_up_at=dt.date(2026, 1, 1), churned_at=dt.date(2026, 2, 1)
            )
        )


def test_database_rejects_out_of_range_nps(store):
    with store.begin() as conn:
        conn.execute(insert(Account).values(account_id="a", name="A", signed_up_at=dt.date(2026, 1, 1)))
    with pytest.raises(IntegrityError), store.begin() as conn:
        conn.execute(
            insert(Survey).values(
                response_id="r", account_id="a", survey="nps", score=11, responded_at=dt.datetime(2026, 1, 2)
            )
        )
    assert has_data(store)
