"""The demo data generator: determinism, the data contract (spec/data.md), realism and the showcase stories."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from storage.demo_data import DEMO_ACCOUNTS, _generic_names, write_demo_csvs

AS_OF = dt.date(2026, 3, 15)
HEADERS = {
    "accounts.csv": "account_id,name,segment,owner_slack_id,signed_up_at,became_customer_at,first_value_at,"
    "churned_at,acquisition_source,renewal_date",
    "revenue.csv": "account_id,month,product,mrr",
    "invoices.csv": "invoice_id,account_id,issued_at,amount",
    "surveys.csv": "response_id,account_id,survey,score,responded_at,contact,comment",
    "tickets.csv": "ticket_id,account_id,opened_at,resolved_at,contacts,priority",
    "usage.csv": "account_id,user_id,occurred_at,feature,duration_seconds",
    "costs.csv": "month,category,amount",
}
DATE = r"\d{4}-\d{2}-\d{2}"
DATETIME = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z"
MONTH = r"\d{4}-\d{2}"
MONEY = r"\d+(\.\d{1,2})?"
INT = r"\d+"


# --- helpers -------------------------------------------------------------------------------------
def read(directory: Path, name: str) -> pd.DataFrame:
    """A CSV exactly as text: every cell a string, empty cells as ''."""
    return pd.read_csv(directory / name, dtype=str, keep_default_na=False)


def days(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, format="%Y-%m-%d")


def stamps(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, format="%Y-%m-%dT%H:%M:%SZ")


def contract_problems(directory: Path, as_of: dt.date) -> list[str]:
    """Every broken rule of spec/data.md (and 'nothing after as_of') in the seven files, as messages."""
    problems: list[str] = []

    def check(ok, what: str) -> None:
        bad = int((~ok).sum()) if isinstance(ok, pd.Series) else int(not ok)
        if bad:
            problems.append(f"{what}: {bad} row(s)")

    def shaped(frame: pd.DataFrame, column: str, pattern: str, what: str, *, optional: bool = False) -> bool:
        """Check the text shape of a column; True when every cell can be parsed further."""
        values = frame[column]
        ok = values.str.fullmatch(pattern)
        ok = ok | (values == "") if optional else ok
        check(ok, what)
        return bool(ok.all())

    end = pd.Timestamp(as_of)
    last_second = end + pd.Timedelta(days=1) - pd.Timedelta(seconds=1)
    first_day = (end - pd.Timedelta(days=730)).to_period("M").to_timestamp()  # ~2 years, from a month start

    for name, header in HEADERS.items():
        with open(directory / name, encoding="utf-8") as fh:
            check(fh.readline().rstrip("\n") == header, f"{name}: header")

    acc = read(directory, "accounts.csv")
    ids = set(acc.account_id)
    check(acc.account_id != "", "accounts: empty account_id")
    check(~acc.account_id.duplicated(), "accounts: duplicate account_id")
    check(acc.name.str.strip() != "", "accounts: empty name")
    check(acc.segment.isin({"smb", "mid-market", "enterprise"}), "accounts: segment")
    shaped(acc, "owner_slack_id", r"U[0-9A-Z]{6,}", "accounts: owner_slack_id", optional=True)
    check(acc.acquisition_source.isin({"referral", "organic", "paid", "outbound"}), "accounts: acquisition_source")
    parseable = shaped(acc, "signed_up_at", DATE, "accounts: signed_up_at format")
    for col in ("became_customer_at", "first_value_at", "churned_at", "renewal_date"):
        parseable &= shaped(acc, col, DATE, f"accounts: {col} format", optional=True)
    if not parseable:
        return problems  # the rest needs the account dates
    signed = days(acc.signed_up_at)
    became = days(acc.became_customer_at.replace("", None))
    first_value = days(acc.first_value_at.replace("", None))
    churned = days(acc.churned_at.replace("", None))
    renewal = days(acc.renewal_date.replace("", None))
    check(became.isna() | (became >= signed), "accounts: became_customer_at < signed_up_at")
    check(churned.isna() | (churned > became), "accounts: churned_at <= became_customer_at or without it")
    check(first_value.isna() | (first_value >= signed), "accounts: first_value_at < signed_up_at")
    for col, values in (("signed_up_at", signed), ("became", became), ("first_value", first_value), ("churn", churned)):
        check(values.isna() | (values <= end), f"accounts: {col} after as_of")
    check(renewal.isna() | (renewal > end), "accounts: renewal_date not in the future")
    check(renewal.isna() | churned.isna(), "accounts: renewal_date on a churned account")
    churn_of = dict(zip(acc.account_id, churned, strict=True))
    signup_of = dict(zip(acc.account_id, signed, strict=True))

    rev = read(directory, "revenue.csv")
    check(rev.account_id.isin(ids), "revenue: unknown account_id")
    shaped(rev, "month", MONTH, "revenue: month format")
    check(rev["product"].isin({"core", "analytics", "automation"}), "revenue: product")
    shaped(rev, "mrr", MONEY, "revenue: mrr not money >= 0")
    check(~rev.duplicated(["account_id", "month", "product"]), "revenue: duplicate key")
    check(rev.month <= f"{as_of:%Y-%m}", "revenue: month after as_of")
    check(rev.month >= f"{first_day:%Y-%m}", "revenue: month before the history")

    inv = read(directory, "invoices.csv")
    check(~inv.invoice_id.duplicated() & (inv.invoice_id != ""), "invoices: invoice_id not unique")
    check(inv.account_id.isin(ids), "invoices: unknown account_id")
    shaped(inv, "amount", MONEY, "invoices: amount not money >= 0")
    if shaped(inv, "issued_at", DATE, "invoices: issued_at format"):
        issued = days(inv.issued_at)
        check((issued <= end) & (issued >= first_day), "invoices: issued_at outside the history")

    sur = read(directory, "surveys.csv")
    check(~sur.response_id.duplicated() & (sur.response_id != ""), "surveys: response_id not unique")
    check(sur.account_id.isin(ids), "surveys: unknown account_id")
    check(sur.survey.isin({"nps", "csat", "ces"}), "surveys: survey kind")
    if shaped(sur, "score", INT, "surveys: score not an int"):
        score = sur.score.astype(int)
        low = sur.survey.map({"nps": 0, "csat": 1, "ces": 1})
        high = sur.survey.map({"nps": 10, "csat": 5, "ces": 5})
        check((score >= low) & (score <= high), "surveys: score out of range")
    if shaped(sur, "responded_at", DATETIME, "surveys: responded_at format"):
        responded = stamps(sur.responded_at)
        check((responded <= last_second) & (responded >= first_day), "surveys: responded_at outside the history")

    tic = read(directory, "tickets.csv")
    check(~tic.ticket_id.duplicated() & (tic.ticket_id != ""), "tickets: ticket_id not unique")
    check(tic.account_id.isin(ids), "tickets: unknown account_id")
    shaped(tic, "contacts", r"[1-9]\d*", "tickets: contacts not >= 1", optional=True)
    check(tic.priority.isin({"low", "normal", "high", "urgent"}), "tickets: priority")
    parseable = shaped(tic, "opened_at", DATETIME, "tickets: opened_at format")
    if shaped(tic, "resolved_at", DATETIME, "tickets: resolved_at format", optional=True) and parseable:
        opened, resolved = stamps(tic.opened_at), stamps(tic.resolved_at.replace("", None))
        check(resolved.isna() | (resolved >= opened), "tickets: resolved_at < opened_at")
        check((opened <= last_second) & (opened >= first_day), "tickets: opened_at outside the history")
        check(resolved.isna() | (resolved <= last_second), "tickets: resolved_at after as_of")

    use = read(directory, "usage.csv")
    check(use.account_id.isin(ids), "usage: unknown account_id")
    check(use.user_id != "", "usage: empty user_id")
    shaped(use, "duration_seconds", INT, "usage: duration_seconds not an int >= 0", optional=True)
    if shaped(use, "occurred_at", DATETIME, "usage: occurred_at format"):
        occurred = stamps(use.occurred_at)
        check((occurred <= last_second) & (occurred >= first_day), "usage: occurred_at outside the history")
        day = occurred.dt.normalize()
        churn = use.account_id.map(churn_of)
        check(churn.isna() | (day < churn), "usage: events on or after churned_at")
        check(day >= use.account_id.map(signup_of), "usage: events before signed_up_at")

    cos = read(directory, "costs.csv")
    shaped(cos, "month", MONTH, "costs: month format")
    check(cos.category.isin({"acquisition", "retention"}), "costs: category")
    shaped(cos, "amount", MONEY, "costs: amount not money >= 0")
    check(~cos.duplicated(["month", "category"]), "costs: duplicate (month, category)")
    check(cos.month <= f"{as_of:%Y-%m}", "costs: month after as_of")
    return problems


def mrr_by_month(directory: Path, account_id: str) -> pd.Series:
    """Total MRR per month of one account over the 4 months ending with the as_of month (0 when missing)."""
    rev = read(directory, "revenue.csv")
    rev = rev[rev.account_id == account_id]
    totals = rev.assign(mrr=rev.mrr.astype(float)).groupby("month").mrr.sum()
    months = [f"{(pd.Timestamp(AS_OF) - pd.DateOffset(months=k)):%Y-%m}" for k in (3, 2, 1, 0)]
    return totals.reindex(months, fill_value=0.0)


def usage_windows(usage: pd.DataFrame, account_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(previous 30 days, last 30 days) of usage of one account; the last window ends with as_of."""
    rows = usage[usage.account_id == account_id]
    day = stamps(rows.occurred_at).dt.normalize()
    end = pd.Timestamp(AS_OF)
    last = rows[(day > end - pd.Timedelta(days=30)) & (day <= end)]
    prev = rows[(day > end - pd.Timedelta(days=60)) & (day <= end - pd.Timedelta(days=30))]
    return prev, last


# --- fixtures ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "csv"
    write_demo_csvs(out, accounts=200, seed=7, as_of=AS_OF)
    return out


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("small")
    write_demo_csvs(out, accounts=40, seed=11, as_of=AS_OF, usage_scale=0.2)
    return out


@pytest.fixture(scope="module")
def usage(demo) -> pd.DataFrame:
    return read(demo, "usage.csv")


# --- determinism and files -----------------------------------------------------------------------
def test_returns_the_seven_files_in_order(demo, tmp_path):
    paths = write_demo_csvs(tmp_path / "new" / "dir", accounts=20, seed=1, as_of=AS_OF)
    assert [p.name for p in paths] == list(HEADERS)
    assert all(p.parent == tmp_path / "new" / "dir" and p.is_file() for p in paths)


def test_same_arguments_give_identical_bytes(demo, tmp_path):
    write_demo_csvs(tmp_path, accounts=200, seed=7, as_of=AS_OF)
    for name in HEADERS:
        assert (tmp_path / name).read_bytes() == (demo / name).read_bytes(), name


def test_different_seed_gives_different_data(demo, tmp_path):
    write_demo_csvs(tmp_path, accounts=200, seed=8, as_of=AS_OF)
    for name in ("accounts.csv", "revenue.csv", "surveys.csv", "tickets.csv", "usage.csv", "costs.csv"):
        assert (tmp_path / name).read_bytes() != (demo / name).read_bytes(), name


def test_different_as_of_moves_the_history(demo, tmp_path):
    write_demo_csvs(tmp_path, accounts=200, seed=7, as_of=AS_OF + dt.timedelta(days=40))
    assert contract_problems(tmp_path, AS_OF + dt.timedelta(days=40)) == []
    assert read(tmp_path, "revenue.csv").month.max() == "2026-04"


def test_every_file_is_non_empty_with_the_exact_header(demo):
    for name, header in HEADERS.items():
        lines = (demo / name).read_text(encoding="utf-8").splitlines()
        assert lines[0] == header, name
        assert len(lines) > 1, name
    assert "\r" not in (demo / "accounts.csv").read_text(encoding="utf-8")


def test_too_few_accounts_is_refused(tmp_path):
    with pytest.raises(ValueError, match="at least"):
        write_demo_csvs(tmp_path, accounts=len(DEMO_ACCOUNTS) - 1, as_of=AS_OF)


def test_default_as_of_is_today_utc(tmp_path):
    write_demo_csvs(tmp_path, accounts=len(DEMO_ACCOUNTS), usage_scale=0.1)
    today = dt.datetime.now(dt.UTC).date()
    months = read(tmp_path, "revenue.csv").month
    assert months.max() == f"{today:%Y-%m}" or months.max() == f"{today - dt.timedelta(days=1):%Y-%m}"


def test_usage_scale_scales_the_event_count(tmp_path):
    counts = {}
    for scale in (0.5, 2.0):
        write_demo_csvs(tmp_path / str(scale), accounts=30, seed=3, as_of=AS_OF, usage_scale=scale)
        counts[scale] = len(read(tmp_path / str(scale), "usage.csv"))
    assert 3.4 < counts[2.0] / counts[0.5] < 4.6


# --- the data contract ---------------------------------------------------------------------------
def test_demo_data_obeys_the_contract(demo):
    assert contract_problems(demo, AS_OF) == []


def test_small_and_other_seed_sets_obey_the_contract(tmp_path):
    write_demo_csvs(tmp_path, accounts=len(DEMO_ACCOUNTS) + 1, seed=123, as_of=dt.date(2025, 12, 31))
    assert contract_problems(tmp_path, dt.date(2025, 12, 31)) == []


@pytest.mark.parametrize(
    ("name", "column", "value", "expected"),
    [
        ("accounts.csv", "churned_at", "2020-01-01", "churned_at <= became_customer_at"),
        ("accounts.csv", "became_customer_at", "2010-01-01", "became_customer_at < signed_up_at"),
        ("revenue.csv", "mrr", "12.345", "mrr not money"),
        ("surveys.csv", "score", "11", "score out of range"),
        ("tickets.csv", "resolved_at", "2000-01-01T00:00:00Z", "resolved_at < opened_at"),
        ("tickets.csv", "contacts", "0", "contacts not >= 1"),
        ("usage.csv", "occurred_at", "2030-01-01T00:00:00Z", "occurred_at outside the history"),
        ("costs.csv", "category", "marketing", "costs: category"),
    ],
)
def test_the_contract_check_catches_broken_rows(small_demo, tmp_path, name, column, value, expected):
    """The validator above is not vacuous: one corrupted cell makes it fail."""
    assert contract_problems(small_demo, AS_OF) == []
    for other in HEADERS:
        shutil.copy(small_demo / other, tmp_path / other)
    frame = read(tmp_path, name)
    frame.loc[len(frame) // 2, column] = value
    frame.to_csv(tmp_path / name, index=False, lineterminator="\n")
    problems = contract_problems(tmp_path, AS_OF)
    assert any(expected in p for p in problems), problems


def test_the_contract_check_catches_duplicate_keys(small_demo, tmp_path):
    for other in HEADERS:
        shutil.copy(small_demo / other, tmp_path / other)
    with open(tmp_path / "revenue.csv", "a", encoding="utf-8") as fh:
        fh.write((small_demo / "revenue.csv").read_text(encoding="utf-8").splitlines()[5] + "\n")
    assert any("revenue: duplicate key" in p for p in contract_problems(tmp_path, AS_OF))


def test_ids_stay_strings(demo):
    """Ids are never numbers in disguise, and the same user_id appears at several accounts (users are pairs)."""
    acc = read(demo, "accounts.csv")
    assert acc.account_id.str.contains(r"[a-z]").all()
    use = read(demo, "usage.csv")
    assert use.groupby("user_id").account_id.nunique().max() > 1


# --- realism: every KPI has something to say ------------------------------------------------------
def test_segments_sources_owners_and_sizes(demo):
    acc = read(demo, "accounts.csv")
    assert set(acc.segment) == {"smb", "mid-market", "enterprise"}
    assert set(acc.acquisition_source) == {"referral", "organic", "paid", "outbound"}
    owners = set(acc.owner_slack_id) - {""}
    assert 3 <= len(owners) <= 10 and all(o.startswith("U0CSM") for o in owners)
    rev = read(demo, "revenue.csv")
    latest = rev[rev.month == f"{AS_OF:%Y-%m}"].assign(mrr=lambda f: f.mrr.astype(float))
    per_account = latest.groupby("account_id").mrr.sum().rename("mrr").reset_index()
    median = per_account.merge(acc, on="account_id").groupby("segment").mrr.median()
    assert median["smb"] < median["mid-market"] < median["enterprise"]


def test_trials_convert_about_sixty_percent_and_ttv_exists(demo):
    acc = read(demo, "accounts.csv")
    signed = days(acc.signed_up_at)
    old = acc[signed <= pd.Timestamp(AS_OF) - pd.Timedelta(days=60)]
    rate = (old.became_customer_at != "").mean()
    assert 0.45 < rate < 0.75
    customers = acc[acc.became_customer_at != ""]
    with_value = customers[customers.first_value_at != ""]
    assert 0.7 < len(with_value) / len(customers) < 1.0
    ttv = (days(with_value.first_value_at) - days(with_value.signed_up_at)).dt.days
    assert ttv.min() >= 1 and 3 <= ttv.median() <= 40
    assert (acc.churned_at != "").sum() >= 10  # some churn to measure
    assert (acc.renewal_date != "").sum() >= 10


def test_revenue_moves(demo):
    """Expansions, contractions and cross-sells all occur between consecutive months."""
    rev = read(demo, "revenue.csv").assign(mrr=lambda f: f.mrr.astype(float))
    totals = rev.groupby(["account_id", "month"]).mrr.sum().unstack(fill_value=0.0)
    step = totals.diff(axis=1).iloc[:, 1:]
    both = ((totals.shift(axis=1) > 0) & (totals > 0)).iloc[:, 1:]
    assert (both & (step > 0)).to_numpy().sum() >= 20
    assert (both & (step < 0)).to_numpy().sum() >= 10
    products = rev.groupby("account_id")["product"].nunique()
    assert (products >= 2).sum() >= 20
    first_month = rev.groupby(["account_id", "product"]).month.min().unstack()
    later_addon = (first_month["analytics"] > first_month["core"]) | (first_month["automation"] > first_month["core"])
    assert later_addon.sum() >= 10


def test_invoices_monthly_and_annual(demo):
    inv = read(demo, "invoices.csv")
    per_account = inv.groupby("account_id").size()
    assert (per_account >= 12).sum() >= 10  # monthly payers
    acme = inv[inv.account_id == "acme"]
    assert len(acme) <= 4 and acme.amount.astype(float).max() > 100_000  # annual, up front


def test_sentiment_is_skewed_positive_with_detractors(demo):
    sur = read(demo, "surveys.csv")
    nps = sur[sur.survey == "nps"].score.astype(int)
    promoters, detractors = (nps >= 9).mean(), (nps <= 6).mean()
    assert promoters > 0.35 and 0.05 < detractors < promoters
    assert {"nps", "csat", "ces"} <= set(sur.survey)
    assert (sur.comment != "").mean() > 0.2 and (sur.contact != "").mean() > 0.8


def test_tickets_have_backlog_slow_ones_and_fcr(demo):
    tic = read(demo, "tickets.csv")
    resolved = tic[tic.resolved_at != ""]
    hours = (stamps(resolved.resolved_at) - stamps(resolved.opened_at)).dt.total_seconds() / 3600
    assert (hours > 72).sum() >= 20
    assert 0.3 < (resolved.contacts == "1").sum() / (resolved.contacts != "").sum() < 0.9
    still_open = tic[tic.resolved_at == ""]
    assert len(still_open) >= 10
    assert (stamps(still_open.opened_at) < pd.Timestamp(AS_OF) - pd.Timedelta(days=14)).sum() >= 3
    assert set(tic.priority) == {"low", "normal", "high", "urgent"}


def test_usage_volume_weekly_rhythm_and_churn_falloff(demo, usage):
    occurred = stamps(usage.occurred_at)
    recent = usage[occurred > pd.Timestamp(AS_OF) - pd.Timedelta(days=90)]
    per_account = len(recent) / recent.account_id.nunique()
    assert 300 < per_account < 800  # about 500 events per active account per 90 days
    weekday = occurred.dt.day_of_week
    per_day = weekday.value_counts()
    assert per_day.loc[[5, 6]].max() < 0.5 * per_day.loc[[0, 1, 2, 3, 4]].min()
    assert usage.feature.nunique() >= 6 and (usage.duration_seconds.astype(int) >= 0).all()
    # Churned accounts fade out: the last 30 days before churn are quieter than days 61-90 before it.
    acc = read(demo, "accounts.csv")
    churned = acc[(acc.churned_at != "") & (days(acc.churned_at) > pd.Timestamp(AS_OF) - pd.Timedelta(days=600))]
    day = occurred.dt.normalize()
    faded = 0
    for account_id, churn_at in zip(churned.account_id, days(churned.churned_at), strict=True):
        mine = usage.account_id == account_id
        late = (mine & (day >= churn_at - pd.Timedelta(days=30))).sum()
        early = (mine & (day < churn_at - pd.Timedelta(days=60)) & (day >= churn_at - pd.Timedelta(days=90))).sum()
        faded += late < 0.5 * early
    assert faded >= 0.7 * len(churned) and len(churned) >= 5


def test_costs_every_month_both_categories(demo):
    cos = read(demo, "costs.csv")
    months = pd.period_range(end=pd.Period(AS_OF, "M"), periods=25, freq="M").strftime("%Y-%m")
    assert set(cos.month) == set(months)
    assert (cos.groupby("month").category.nunique() == 2).all()
    assert (cos.amount.astype(float) > 0).all()


# --- showcase accounts ---------------------------------------------------------------------------
def test_showcase_accounts_exist_and_names_resolve(demo):
    acc = read(demo, "accounts.csv").set_index("account_id")
    assert list(acc.index[: len(DEMO_ACCOUNTS)]) == list(DEMO_ACCOUNTS)
    assert {"acme", "globex", "initech", "umbrella", "hooli"} <= set(DEMO_ACCOUNTS)
    assert acc.loc["acme", "name"] == "Acme Corp"
    assert acc.loc["globex", "name"] == "Globex Corporation"
    names = acc.name.str.lower()
    assert names.str.contains("acme").sum() == 1
    assert sorted(acc.name[names.str.contains("stark")]) == ["Stark Industries", "Stark Logistics"]
    for word in ("globex", "initech", "umbrella", "hooli"):
        assert names.str.contains(word).sum() == 1, word
    assert not acc.name.duplicated().any()


def test_generic_names_never_collide_with_the_showcase():
    """At any scale: names stay unique and no generated name contains a showcase word."""
    names = pd.Series(_generic_names(70_000, np.random.default_rng(0)))
    assert not names.duplicated().any()
    lowered = names.str.lower()
    for word in ("acme", "globex", "initech", "umbrella", "hooli", "stark"):
        assert not lowered.str.contains(word).any(), word


def test_acme_is_healthy_and_growing(demo, usage):
    acc = read(demo, "accounts.csv").set_index("account_id")
    assert acc.loc["acme", "churned_at"] == "" and acc.loc["acme", "became_customer_at"] != ""
    assert days(pd.Series([acc.loc["acme", "renewal_date"]]))[0] > pd.Timestamp(AS_OF) + pd.Timedelta(days=90)
    mrr = mrr_by_month(demo, "acme")
    assert mrr.is_monotonic_increasing and mrr.iloc[0] < mrr.iloc[1] < mrr.iloc[2] < mrr.iloc[3]
    prev, last = usage_windows(usage, "acme")
    assert len(last) >= 0.9 * len(prev) > 0
    sur = read(demo, "surveys.csv")
    recent = sur[(sur.account_id == "acme") & (stamps(sur.responded_at) > pd.Timestamp(AS_OF) - pd.Timedelta(days=180))]
    nps = recent[recent.survey == "nps"].score.astype(int)
    assert len(nps) and (nps >= 9).all()


def test_globex_is_declining_toward_churn(demo, usage):
    acc = read(demo, "accounts.csv").set_index("account_id")
    assert acc.loc["globex", "churned_at"] == ""
    renewal = pd.Timestamp(acc.loc["globex", "renewal_date"])
    assert pd.Timestamp(AS_OF) < renewal <= pd.Timestamp(AS_OF) + pd.Timedelta(days=60)
    prev, last = usage_windows(usage, "globex")
    assert len(prev) > 0 and len(last) < 0.5 * len(prev)
    assert last.user_id.nunique() <= 0.5 * prev.user_id.nunique()  # active users down 50%+
    sur = read(demo, "surveys.csv")
    responded = stamps(sur.responded_at)
    in_30 = (responded > pd.Timestamp(AS_OF) - pd.Timedelta(days=30)) & (responded <= pd.Timestamp(AS_OF))
    recent_nps = sur[(sur.account_id == "globex") & (sur.survey == "nps") & in_30].score.astype(int)
    assert (recent_nps <= 6).any()
    mrr = mrr_by_month(demo, "globex")
    assert mrr.iloc[3] < mrr.iloc[0] and mrr.iloc[3] > 0
    tic = read(demo, "tickets.csv")
    open_old = tic[
        (tic.account_id == "globex")
        & (tic.resolved_at == "")
        & (stamps(tic.opened_at) < pd.Timestamp(AS_OF) - pd.Timedelta(days=7))
    ]
    assert len(open_old) >= 2


def test_initech_has_churned_and_went_quiet(demo, usage):
    acc = read(demo, "accounts.csv").set_index("account_id")
    churned_at = pd.Timestamp(acc.loc["initech", "churned_at"])
    assert churned_at <= pd.Timestamp(AS_OF)
    assert acc.loc["initech", "renewal_date"] == ""
    mine = usage[usage.account_id == "initech"]
    day = stamps(mine.occurred_at).dt.normalize()
    assert len(mine) > 0 and (day < churned_at).all()
    late = (day >= churned_at - pd.Timedelta(days=30)).sum()
    early = ((day < churned_at - pd.Timedelta(days=60)) & (day >= churned_at - pd.Timedelta(days=90))).sum()
    assert late < 0.5 * early
    mrr = mrr_by_month(demo, "initech")
    assert mrr.iloc[3] == 0


def test_umbrella_and_hooli_are_in_between(demo, usage):
    acc = read(demo, "accounts.csv").set_index("account_id")
    # Umbrella: still a customer, renewal within 90 days (but not 60), flat revenue, passives.
    renewal = pd.Timestamp(acc.loc["umbrella", "renewal_date"])
    assert pd.Timestamp(AS_OF) + pd.Timedelta(days=60) < renewal <= pd.Timestamp(AS_OF) + pd.Timedelta(days=90)
    mrr = mrr_by_month(demo, "umbrella")
    assert mrr.nunique() == 1 and mrr.iloc[0] > 0
    prev, last = usage_windows(usage, "umbrella")
    assert 0.5 * len(prev) < len(last) < 1.05 * len(prev)
    # Hooli: converted within the last month, time-to-value not reached yet, usage ramping up.
    became = pd.Timestamp(acc.loc["hooli", "became_customer_at"])
    assert pd.Timestamp(AS_OF) - pd.Timedelta(days=31) <= became <= pd.Timestamp(AS_OF)
    assert acc.loc["hooli", "first_value_at"] == "" and acc.loc["hooli", "churned_at"] == ""
    prev, last = usage_windows(usage, "hooli")
    assert len(last) > len(prev)
