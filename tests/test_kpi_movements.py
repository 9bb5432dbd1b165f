"""mrr_movements: the change of MRR between two month-ends split per account, on SQLite and Postgres.

Hand-worked cases on small data, the Stripe scenario's months, and a reconciliation on every month and
quarter of the demo data set (the parts add up exactly to the change, and match a recount in Python).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from kpi_core.answers import ask as answer_text
from kpi_core.commands import parse_command
from kpi_core.kpis.movements import KINDS
from storage.demo_data import write_demo_csvs
from storage.importer import import_paths
from storage.models import Revenue
from tests.kpi_helpers import UTC_CONFIG, account, ask, load, revenue


def _parts(result) -> dict:
    b = result.breakdown
    return {k: (Decimal(str(b[f"{k}_mrr"])).quantize(Decimal("0.01")), b[f"{k}_accounts"]) for k in KINDS}


def _net(result) -> Decimal:
    p = _parts(result)
    return p["new"][0] + p["expansion"][0] + p["reactivation"][0] - p["contraction"][0] - p["churned"][0]


def test_each_kind_on_hand_made_accounts(store: Engine) -> None:
    # start month February, end month March (the period is March)
    load(store, accounts=[account(a, customer="2025-01-01") for a in "ABCDEFGH"], revenue=[
        revenue("A", "2026-02", 100), revenue("A", "2026-03", 150),                 # expansion 50
        revenue("B", "2026-02", 100), revenue("B", "2026-03", 60),                  # contraction 40
        revenue("C", "2026-02", 80),                                                # churned 80
        revenue("D", "2026-03", 30), revenue("D", "2026-03", 20, "addon"),          # new 50 (two products)
        revenue("E", "2025-11", 10), revenue("E", "2026-03", 25),                   # reactivation 25
        revenue("F", "2026-02", 70), revenue("F", "2026-03", 70),                   # no movement
        revenue("G", "2026-02", 40, "core"), revenue("G", "2026-03", 40, "addon"),  # product switch, same total
        revenue("H", "2026-01", 5),                                                  # paid only in between
    ])
    result = ask(store, "mrr_movements", "2026-03-01", "2026-03-31")
    assert _parts(result) == {"new": (Decimal("50.00"), 1), "expansion": (Decimal("50.00"), 1),
                              "reactivation": (Decimal("25.00"), 1), "contraction": (Decimal("40.00"), 1),
                              "churned": (Decimal("80.00"), 1)}
    # start 100+100+80+70+40 = 390; end 150+60+50+25+70+40 = 395; change +5 = 50 + 50 + 25 - 40 - 80
    assert (result.breakdown["start_mrr"], result.breakdown["end_mrr"]) == (390.0, 395.0)
    assert result.value == 5.0 and result.sample == 5
    assert result.breakdown["top"]["new"] == [{"id": "D", "name": "D", "amount": 50.0}]
    # the previous period (February vs January): H churned 5 ... and A, B, C, F, G were new in February
    assert result.previous.value == 390.0 - 5.0


def test_a_quarter_compares_the_month_before_it_with_its_last_month(store: Engine) -> None:
    load(store, accounts=[account(a, customer="2025-01-01") for a in "ABC"], revenue=[
        revenue("A", "2026-03", 10), revenue("A", "2026-05", 20),  # 10 in March (the start month), 0 in June: churned
        revenue("B", "2026-04", 10), revenue("B", "2026-06", 10),  # first paid in April: new
        revenue("C", "2026-02", 10), revenue("C", "2026-06", 30),  # paid before March, not in March: reactivation
    ])
    # Q2 2026: start month March (the day before April 1), end month June
    result = ask(store, "mrr_movements", "2026-04-01", "2026-06-30")
    assert _parts(result)["churned"] == (Decimal("10.00"), 1)  # A: 10 in March, 0 in June
    assert _parts(result)["new"] == (Decimal("10.00"), 1)
    assert _parts(result)["reactivation"] == (Decimal("30.00"), 1)
    assert result.value == 30.0


def test_scope_and_no_data(store: Engine) -> None:
    load(store, accounts=[account("A", customer="2025-01-01", segment="smb"), account("B", customer="2025-01-01")],
         revenue=[revenue("A", "2026-02", 10), revenue("A", "2026-03", 30), revenue("B", "2026-03", 99)])
    scoped = ask(store, "mrr_movements", "2026-03-01", "2026-03-31", segment="smb")
    assert scoped.value == 20.0 and _parts(scoped)["expansion"] == (Decimal("20.00"), 1)
    empty = ask(store, "mrr_movements", "2026-06-01", "2026-06-30")
    assert empty.value is None and empty.reason == "no revenue data for May 2026 or June 2026"


def test_mrr_movements_command_parses_and_answers(store: Engine) -> None:
    load(store, accounts=[account("A", customer="2025-01-01", name="Acme")],
         revenue=[revenue("A", "2026-02", 10), revenue("A", "2026-03", 30)])
    today = dt.date(2026, 4, 10)
    with store.connect() as conn:
        command = parse_command(conn, "/mrr movements last-month", today)
    assert command.request.kpi == "mrr_movements"
    answer = answer_text(store, "/mrr movements 2026-03", today, UTC_CONFIG)
    assert answer.command == "/mrr" and answer.result.value == 20.0
    assert answer.result.breakdown["top"]["expansion"] == [{"id": "A", "name": "Acme", "amount": 20.0}]


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    write_demo_csvs(out, accounts=150, seed=11, as_of=dt.date(2026, 3, 31), usage_scale=0.02)
    return out


def test_movements_reconcile_on_every_month_and_quarter_of_the_demo_data(store: Engine, demo_dir: Path) -> None:
    import_paths(store, [demo_dir / "accounts.csv", demo_dir / "revenue.csv"])
    with store.connect() as conn:
        rows = conn.execute(select(Revenue.account_id, Revenue.month, Revenue.mrr)).all()
    per: dict[tuple[str, dt.date], Decimal] = defaultdict(Decimal)
    for a, m, v in rows:
        per[(a, m)] += Decimal(str(v)).quantize(Decimal("0.01"))
    months = sorted({m for _, m in per})
    accounts = sorted({a for a, _ in per})
    assert len(months) >= 12
    periods = [(m, m) for m in months[1:]] + [(months[i], months[i + 2]) for i in range(1, len(months) - 2, 3)]
    for first_month, last_month in periods:
        end = (last_month.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
        result = ask(store, "mrr_movements", first_month.isoformat(), end.isoformat())
        start_month = (first_month - dt.timedelta(days=1)).replace(day=1)
        expected: dict[str, list] = {k: [Decimal("0.00"), 0] for k in KINDS}
        for a in accounts:
            s, e = per.get((a, start_month), Decimal(0)), per.get((a, last_month), Decimal(0))
            before = any(per.get((a, m), 0) > 0 for m in months if m < start_month)
            kind = ("new" if not before else "reactivation") if s == 0 < e else \
                "expansion" if 0 < s < e else "contraction" if 0 < e < s else "churned" if s > 0 and e == 0 else None
            if kind:
                expected[kind][0] += abs(e - s)
                expected[kind][1] += 1
        assert _parts(result) == {k: tuple(v) for k, v in expected.items()}, (first_month, last_month)
        start_total = sum((v for (a, m), v in per.items() if m == start_month), Decimal("0.00"))
        end_total = sum((v for (a, m), v in per.items() if m == last_month), Decimal("0.00"))
        assert _net(result) == end_total - start_total, (first_month, last_month)
        assert Decimal(str(result.value)).quantize(Decimal("0.01")) == end_total - start_total
        mrr_end = ask(store, "mrr", first_month.isoformat(), end.isoformat()).value
        assert Decimal(str(mrr_end)).quantize(Decimal("0.01")) == end_total


def test_movements_render_in_slack_terminal_and_json(store: Engine) -> None:
    import json

    from rich.console import Console

    from bot.render.blocks import answer_blocks
    from bot.render.json_out import answer_to_json
    from bot.render.terminal import render

    load(store, accounts=[account("A", customer="2025-01-01", name="Acme"), account("B", customer="2025-01-01",
                                                                                    name="Beta")],
         revenue=[revenue("A", "2026-02", 10), revenue("A", "2026-03", 30), revenue("B", "2026-02", 5)])
    answer = answer_text(store, "/mrr movements 2026-03", dt.date(2026, 4, 10), UTC_CONFIG)
    texts = [b.text.text for b in answer_blocks(answer) if getattr(b, "text", None) is not None]
    assert "Expansion +20.00 (1 account): Acme 20.00\nChurned -5.00 (1 account): Beta 5.00" in texts
    console = Console(width=200, record=True)
    console.print(render(answer))
    shown = console.export_text()
    assert "Expansion +20.00 (1 account): Acme 20.00" in shown and "top" not in shown
    payload = json.loads(json.dumps(answer_to_json(answer), default=str))
    assert payload["kpi"] == "mrr_movements" and payload["value"] == 15.0
    assert payload["breakdown"]["churned_mrr"] == 5.0
    assert payload["breakdown"]["top"]["churned"] == [{"id": "B", "name": "Beta", "amount": 5.0}]


def test_the_digest_shows_last_months_movements_with_top_accounts(store: Engine) -> None:
    from bot.render.digest_blocks import digest_blocks
    from kpi_core.digest import build_digest

    load(store, accounts=[account("A", customer="2025-01-01", name="Acme <Inc>"),
                          account("B", customer="2025-01-01", name="Beta"),
                          account("C", customer="2025-01-01", name="Cyan")],
         revenue=[revenue("A", "2026-09", 10), revenue("A", "2026-10", 30), revenue("B", "2026-09", 5),
                  revenue("C", "2026-10", 7)])
    content = build_digest(store, dt.date(2026, 11, 23), UTC_CONFIG, ["mrr"])
    assert content.movements_period.label == "October 2026"
    assert content.movements.value == 22.0  # 37 - 15 = 20 expansion + 7 new - 5 churned
    texts = "\n".join(b.text.text for b in digest_blocks(content) if getattr(b, "text", None) is not None)
    assert ("*:moneybag: MRR movements, October 2026 (2026-10-01 – 2026-10-31)*: net +22.00 (15.00 → 37.00)\n"
            "• *New* +7.00 (1 account): Cyan 7.00\n"
            "• *Expansion* +20.00 (1 account): Acme &lt;Inc&gt; 20.00\n"
            "• *Churned* -5.00 (1 account): Beta 5.00") in texts
    empty = build_digest(store, dt.date(2027, 6, 2), UTC_CONFIG, ["mrr"])
    assert empty.movements.value is None
    assert "MRR movements" not in "\n".join(
        b.text.text for b in digest_blocks(empty) if getattr(b, "text", None) is not None)
