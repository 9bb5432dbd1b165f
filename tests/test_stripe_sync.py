"""`sync_stripe` against a local stand-in of Stripe's REST API, on SQLite and Postgres.

The figures are worked out by hand in tests/stripe_wire/scenario.py (one customer per case of the issue).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from storage.freshness import table_loads
from storage.importer import import_paths
from storage.models import Account, Invoice, Revenue, ScheduledCancellation
from storage.provenance import owned_keys
from storage.stripe_sync import fetch as fetch_module
from storage.stripe_sync import sync_stripe
from storage.sync_report import SyncError
from tests.stripe_wire import scenario
from tests.stripe_wire.builders import Seed
from tests.stripe_wire.fake_stripe_api import FakeStripe

KEY = "sk_test_csbot"


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    server = FakeStripe(KEY).start()
    scenario.seed(Seed(server))
    yield server
    server.stop()


def _sync(store: Engine, fake: FakeStripe, **kw):
    args = {"api_key": KEY, "api_base": fake.url, "now": scenario.NOW, "currency": "usd",
            "currency_rates": scenario.RATES} | kw
    return sync_stripe(store, **args)


def _revenue(store: Engine) -> dict:
    with store.connect() as conn:
        rows = conn.execute(select(Revenue.account_id, Revenue.month, Revenue.product, Revenue.mrr))
        return {(a, m.strftime("%Y-%m"), p): f"{Decimal(v):.2f}" for a, m, p, v in rows}


def _accounts(store: Engine) -> dict:
    with store.connect() as conn:
        rows = conn.execute(select(Account.account_id, Account.name, Account.signed_up_at,
                                   Account.became_customer_at, Account.churned_at, Account.renewal_date))
        return {r[0]: tuple(v.isoformat() if isinstance(v, dt.date) else v for v in r[1:]) for r in rows}


def _invoices(store: Engine) -> dict:
    with store.connect() as conn:
        rows = conn.execute(select(Invoice.invoice_id, Invoice.account_id, Invoice.issued_at, Invoice.amount))
        return {i: (a, d.isoformat(), f"{Decimal(v):.2f}") for i, a, d, v in rows}


def _snapshot(store: Engine) -> tuple:
    with store.connect() as conn:
        cancellations = conn.execute(select(ScheduledCancellation.subscription_id)).scalars().all()
    return _revenue(store), _accounts(store), _invoices(store), sorted(cancellations)


def test_sync_writes_the_hand_worked_mrr_accounts_invoices_and_cancellations(store: Engine, fake: FakeStripe):
    report = _sync(store, fake)
    assert _revenue(store) == scenario.REVENUE
    assert _accounts(store) == scenario.ACCOUNTS
    assert _invoices(store) == scenario.INVOICES
    with store.connect() as conn:
        totals = conn.execute(select(Revenue.month, func.sum(Revenue.mrr)).group_by(Revenue.month)).all()
        cancellations = {r.subscription_id: (r.account_id, r.cancel_on, Decimal(r.mrr))
                         for r in conn.execute(select(ScheduledCancellation))}
        loads = {(x.table, x.source): x for x in table_loads(conn)}
        owned = owned_keys(conn, "stripe", "invoices")
    assert {m.strftime("%Y-%m"): f"{Decimal(v):.2f}" for m, v in totals} == scenario.MRR_BY_MONTH
    assert cancellations == scenario.CANCELLATIONS
    assert set(loads) == {("accounts", "stripe"), ("revenue", "stripe"), ("invoices", "stripe")}
    assert loads[("revenue", "stripe")].rows == len(scenario.REVENUE)
    assert loads[("revenue", "stripe")].loaded_at == dt.datetime(2026, 3, 15, 12, 0)
    assert owned == {(i,) for i in scenario.INVOICES}
    lines = report.lines()
    assert lines[0] == "stripe: changed"
    assert f"  accounts: {len(scenario.ACCOUNTS)} added, 0 changed, 0 removed" in lines
    assert f"  revenue: {len(scenario.REVENUE)} added, 0 changed, 0 removed" in lines
    assert f"  invoices: {len(scenario.INVOICES)} added, 0 changed, 0 removed" in lines
    assert f"  {scenario.LEFT_OUT}" in lines
    assert "  scheduled cancellations: 1" in lines


def test_every_list_is_read_to_its_end_and_long_invoices_and_subscriptions_are_paged(store, fake, monkeypatch):
    monkeypatch.setattr(fetch_module, "PAGE_LIMIT", 3)
    _sync(store, fake)
    assert _revenue(store) == scenario.REVENUE
    paths = [p for p, _ in fake.requests]
    assert "/v1/invoices/in_many/lines" in paths
    assert ("/v1/subscription_items", "limit=3&subscription=sub_many") in fake.requests
    assert any("starting_after=" in q for p, q in fake.requests if p == "/v1/customers")
    assert ("/v1/subscriptions", "limit=3&status=all") in fake.requests


def test_a_second_sync_with_nothing_new_changes_nothing(store: Engine, fake: FakeStripe):
    _sync(store, fake)
    before = _snapshot(store)
    report = _sync(store, fake)
    assert _snapshot(store) == before
    assert all((c.added, c.changed, c.removed) == (0, 0, 0) for c in report.tables.values())
    assert set(report.tables) == {"accounts", "revenue", "invoices"}


def test_rows_gone_from_stripe_are_removed_and_other_sources_rows_and_columns_are_kept(
        store: Engine, fake: FakeStripe, tmp_path: Path):
    (tmp_path / "accounts.csv").write_text(
        "account_id,name,segment,owner_slack_id,signed_up_at\n"
        "cus_monthly,Monthly (CRM),enterprise,U0OWNER1,2025-12-01\n"
        "crm_only,CRM Only,smb,U0OWNER2,2025-01-01\n")
    (tmp_path / "revenue.csv").write_text("account_id,month,product,mrr\ncrm_only,2026-01,core,10.00\n")
    import_paths(store, [tmp_path])
    _sync(store, fake)
    del fake.objects["invoices"]["in_quarterly"]  # its line was Quarterly Co's only MRR
    del fake.objects["customers"]["cus_trial"]
    fake.objects["customers"]["cus_monthly"]["name"] = "Monthly Company"
    report = _sync(store, fake)
    revenue = _revenue(store)
    assert not any(k[0] == "cus_quarterly" for k in revenue)
    assert revenue[("crm_only", "2026-01", "core")] == "10.00"
    accounts = _accounts(store)
    assert "cus_trial" not in accounts and "crm_only" in accounts and "cus_quarterly" in accounts
    assert accounts["cus_quarterly"][2] is None  # no counted line any more: never a customer
    assert "in_quarterly" not in _invoices(store)
    with store.connect() as conn:
        monthly = conn.execute(select(Account).where(Account.account_id == "cus_monthly")).one()
    assert (monthly.name, monthly.segment, monthly.owner_slack_id) == ("Monthly Company", "enterprise", "U0OWNER1")
    assert (report.tables["revenue"].removed, report.tables["invoices"].removed) == (3, 1)
    assert (report.tables["accounts"].removed, report.tables["accounts"].changed) == (1, 2)


def test_rate_limits_and_server_errors_are_retried_then_the_sync_succeeds(store, fake, monkeypatch):
    monkeypatch.setattr(fetch_module, "RATE_LIMIT_FIRST_DELAY", 0.01)
    fake.fail_next(429, 2)
    fake.fail_next(500, 1)
    _sync(store, fake)
    assert _revenue(store) == scenario.REVENUE
    assert len(fake.requests) > 3


def test_rate_limited_for_ever_fails_and_writes_nothing(store, fake, monkeypatch):
    monkeypatch.setattr(fetch_module, "RATE_LIMIT_FIRST_DELAY", 0.001)
    fake.fail_next(429, 100)
    with pytest.raises(SyncError) as caught:
        _sync(store, fake)
    assert "rate limited" in str(caught.value)
    assert _snapshot(store) == ({}, {}, {}, [])


def test_a_wrong_key_stops_the_sync_with_one_line_and_writes_nothing(store: Engine, fake: FakeStripe):
    with pytest.raises(SyncError) as caught:
        _sync(store, fake, api_key="sk_test_wrong")
    assert caught.value.problems == [
        "stripe: STRIPE_API_KEY was refused by Stripe (401): check the key, e.g. a restricted key copied whole "
        "from the dashboard"]
    assert "\n" not in str(caught.value)
    assert _snapshot(store) == ({}, {}, {}, [])


def test_a_missing_rate_fails_naming_the_currency_and_invoices_and_writes_nothing(store, fake):
    _sync(store, fake)
    before = _snapshot(store)
    fake.objects["customers"]["cus_monthly"]["name"] = "Renamed"
    with pytest.raises(SyncError) as caught:
        _sync(store, fake, currency_rates={"jpy": Decimal("0.0067")})
    assert len(caught.value.problems) == 1
    message = caught.value.problems[0]
    assert message.startswith("stripe: no rate for EUR in currency_rates (reporting currency USD)")
    assert message.endswith("invoices that need it: in_eur")
    assert _snapshot(store) == before


def test_a_row_breaking_the_data_contract_fails_the_whole_sync(store: Engine, fake: FakeStripe):
    fake.objects["customers"]["cus_weekly"]["name"] = "x" * 600
    with pytest.raises(SyncError) as caught:
        _sync(store, fake)
    assert caught.value.problems == [
        "stripe:accounts:cus_weekly: name: is 600 characters long; at most 512 are allowed"]
    assert _snapshot(store) == ({}, {}, {}, [])


def test_dry_run_reports_the_changes_and_writes_nothing(store: Engine, fake: FakeStripe):
    report = _sync(store, fake, dry_run=True)
    assert report.lines()[0] == "stripe: would change (dry run, nothing written)"
    assert report.tables["revenue"].added == len(scenario.REVENUE)
    assert _snapshot(store) == ({}, {}, {}, [])
    with store.connect() as conn:
        assert table_loads(conn) == []


def test_customers_sharing_an_account_id_are_one_account(store: Engine, fake: FakeStripe):
    seed = Seed(fake)
    seed.customer("cus_acme_us", "2026-01-05", name="Acme US", account_id="ACME")
    seed.customer("cus_acme_eu", "2026-01-03", name="Acme EU", account_id="ACME")
    from tests.stripe_wire.builders import line
    for cus in ("cus_acme_us", "cus_acme_eu"):
        seed.subscription(f"sub_{cus}", cus, "2026-03-01", [(f"si_{cus}", "price_m10", "2026-04-01")])
        seed.invoice(f"in_{cus}", cus, "paid", "2026-03-01",
                     [line(1000, "2026-03-01", "2026-04-01", f"sub_{cus}", f"si_{cus}", "price_m10")])
    _sync(store, fake)
    assert _revenue(store)[("ACME", "2026-03", "Core")] == "20.00"
    assert _accounts(store)["ACME"] == ("Acme EU", "2026-01-03", "2026-03-01", None, None)
    assert _invoices(store)["in_cus_acme_us"][0] == "ACME"


def test_one_customer_sync_changes_only_that_account(store: Engine, fake: FakeStripe):
    _sync(store, fake)
    before = _snapshot(store)
    fake.objects["subscriptions"]["sub_cancel_end"].update(cancel_at=None, cancel_at_period_end=False)
    fake.lines["in_cancel_end_1"][0]["discount_amounts"] = []  # March back to $200
    fake.objects["invoices"]["in_cancel_end_1"]["amount_paid"] = 20000
    fake.objects["customers"]["cus_monthly"]["name"] = "Not synced yet"
    report = _sync(store, fake, customer="cus_cancel_end")
    revenue, accounts, invoices, cancellations = _snapshot(store)
    assert revenue == before[0] | {("cus_cancel_end", "2026-03", "Core"): "200.00"}
    assert accounts == before[1] and cancellations == []
    assert invoices == before[2] | {"in_cancel_end_1": ("cus_cancel_end", "2026-03-01", "200.00")}
    assert (report.tables["revenue"].changed, report.tables["invoices"].changed) == (1, 1)
    assert sum(c.added + c.removed for c in report.tables.values()) == 0
    with store.connect() as conn:
        assert owned_keys(conn, "stripe", "invoices") == {(i,) for i in scenario.INVOICES}
    requested = {p for p, _ in fake.requests}
    assert "/v1/customers/cus_cancel_end" in requested
    assert ("/v1/invoices", "limit=100&customer=cus_cancel_end") in fake.requests
    # the customer deleted in Stripe: its account and rows go, nothing else
    del fake.objects["customers"]["cus_weekly"]
    fake.deleted_customers.add("cus_weekly")
    _sync(store, fake, customer="cus_weekly")
    revenue, accounts, invoices, _ = _snapshot(store)
    assert "cus_weekly" not in accounts and len(accounts) == len(scenario.ACCOUNTS) - 1
    assert not any(k[0] == "cus_weekly" for k in revenue)
    assert not any(v[0] == "cus_weekly" for v in invoices) and "in_monthly_0" in invoices


def test_kpis_over_the_synced_store_equal_the_hand_worked_figures(store: Engine, fake: FakeStripe):
    from tests.kpi_helpers import ask

    _sync(store, fake)
    feb = ("2026-02-01", "2026-02-28")
    assert ask(store, "mrr", *feb).value == 818.33
    assert ask(store, "mrr", "2026-03-01", "2026-03-15").value == 1330.33
    # customers on Feb 28: monthly, quarterly, yearly, weekly, leaving, growing, back-again (gone churned Feb 10)
    assert ask(store, "customers", *feb).value == 7
    # customers on Jan 31: monthly, quarterly, yearly, gone, growing, back-again = 6; lost in February: gone
    churn = ask(store, "churn", *feb)
    assert (churn.value, churn.sample) == (round(100 / 6, 4), 6)
    # paid in February: monthly 1, weekly 0, leaving 0, gone 1, growing 1 and 2 = 6 invoices of 5 accounts
    frequency = ask(store, "purchase_frequency", *feb)
    assert frequency.value == 6 / 5
    movements = ask(store, "mrr_movements", "2026-03-01", "2026-03-31")
    b = movements.breakdown
    assert (b["new_mrr"], b["reactivation_mrr"], b["contraction_mrr"], b["expansion_mrr"], b["churned_mrr"]) == \
        (472.0, 60.0, 20.0, 0.0, 0.0)
    assert movements.value == 512.0  # 1330.33 - 818.33
    february = ask(store, "mrr_movements", *feb).breakdown
    assert (february["new_mrr"], february["expansion_mrr"], february["churned_mrr"]) == (243.33, 200.0, 40.0)


def test_two_syncs_at_once_both_succeed_one_after_the_other(store: Engine, fake: FakeStripe):
    import threading

    errors: list[BaseException] = []

    def run() -> None:
        try:
            _sync(store, fake)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert _revenue(store) == scenario.REVENUE and _invoices(store) == scenario.INVOICES


def test_a_counted_line_on_a_price_stripe_did_not_list_fails_the_sync(store: Engine, fake: FakeStripe):
    del fake.objects["prices"]["price_an50"]
    with pytest.raises(SyncError) as caught:
        _sync(store, fake)
    [problem] = caught.value.problems
    assert problem.startswith("stripe:invoices:in_two: line il_") and "price price_an50 is not in Stripe's price" \
        in problem
    assert _snapshot(store) == ({}, {}, {}, [])
