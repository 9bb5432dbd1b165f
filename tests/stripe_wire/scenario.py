"""The hand-made Stripe account of the sync tests, and its figures worked out by hand.

The sync runs at NOW = 2026-03-15T12:00:00Z; reporting currency USD, EUR at 1.08 and JPY at 0.0067.
Each customer is one case of the issue; the comment above it works its MRR out month by month
(T = the last second of the month; for March 2026, NOW).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from tests.stripe_wire.builders import Seed, line

NOW = dt.datetime(2026, 3, 15, 12, 0, tzinfo=dt.UTC)
RATES = {"EUR": Decimal("1.08"), "jpy": Decimal("0.0067")}


def seed(s: Seed) -> None:
    s.product("prod_core", "Core")
    s.product("prod_core2", "Core")  # another product with the same name: their MRR adds up
    s.product("prod_analytics", "Analytics")
    s.product("prod_api", "API calls")
    s.price("price_m50", "prod_core", 5000)
    s.price("price_m40", "prod_core", 4000)
    s.price("price_m60", "prod_core", 6000)
    s.price("price_m100", "prod_core", 10000)
    s.price("price_m200", "prod_core", 20000)
    s.price("price_m300", "prod_core", 30000)
    s.price("price_q300", "prod_core", 30000, "month", 3)
    s.price("price_y1200", "prod_core", 120000, "year")
    s.price("price_w10", "prod_core", 1000, "week")
    s.price("price_an50", "prod_analytics", 5000)
    s.price("price_c25", "prod_core2", 2500)
    s.price("price_m10", "prod_core", 1000)
    s.price("price_m20", "prod_core", 2000)
    s.price("price_metered", "prod_api", 0, usage="metered")
    s.price("price_jpy", "prod_core", 10000, currency="jpy")
    s.price("price_eur_y", "prod_core", 100000, "year", currency="eur")
    s.price("price_setup", "prod_core", 9900, interval=None)

    # Monthly, quantity 2 x $50 = $100 a month: Jan 100, Feb 100, Mar 100 (March's invoice is open: it counts).
    # A void (Jan, $999), an uncollectible (Feb, $999) and a draft (Apr) invoice count for nothing.
    s.customer("cus_monthly", "2025-12-20T09:00:00", name="Monthly Co")
    s.subscription("sub_monthly", "cus_monthly", "2026-01-01", [("si_monthly", "price_m50", "2026-04-01")])
    for n, (a, b, status) in enumerate([("2026-01-01", "2026-02-01", "paid"), ("2026-02-01", "2026-03-01", "paid"),
                                        ("2026-03-01", "2026-04-01", "open")]):
        s.invoice(f"in_monthly_{n}", "cus_monthly", status, a,
                  [line(10000, a, b, "sub_monthly", "si_monthly", "price_m50")])
    s.invoice("in_monthly_void", "cus_monthly", "void", "2026-01-02",
              [line(99900, "2026-01-01", "2026-02-01", "sub_monthly", "si_monthly", "price_m50")])
    s.invoice("in_monthly_uncollectible", "cus_monthly", "uncollectible", "2026-02-02",
              [line(99900, "2026-02-01", "2026-03-01", "sub_monthly", "si_monthly", "price_m50")])
    s.invoice("in_monthly_draft", "cus_monthly", "draft", "2026-03-14",
              [line(10000, "2026-04-01", "2026-05-01", "sub_monthly", "si_monthly", "price_m50")])

    # Quarterly $300 for Jan 1 - Apr 1: 300 / 3 = $100 in Jan, Feb, Mar.
    s.customer("cus_quarterly", "2025-12-01", name="Quarterly Co")
    s.subscription("sub_quarterly", "cus_quarterly", "2026-01-01", [("si_quarterly", "price_q300", "2026-04-01")])
    s.invoice("in_quarterly", "cus_quarterly", "paid", "2026-01-01",
              [line(30000, "2026-01-01", "2026-04-01", "sub_quarterly", "si_quarterly", "price_q300")])

    # Yearly $1,200 with 25% off ($300 discount) from 2025-12-10: (1200 - 300) / 12 = $75 in Dec, Jan, Feb, Mar.
    # It renews yearly: renewal_date 2026-12-10.
    s.customer("cus_yearly", "2025-11-01", name="Yearly Co")
    s.subscription("sub_yearly", "cus_yearly", "2025-12-10", [("si_yearly", "price_y1200", "2026-12-10")])
    s.invoice("in_yearly", "cus_yearly", "paid", "2025-12-10",
              [line(120000, "2025-12-10", "2026-12-10", "sub_yearly", "si_yearly", "price_y1200", discounts=(30000,))])

    # Weekly $10: 10 x 52 / 12 = 43.333... -> $43.33. Feb (T = Feb 28 23:59:59) is covered by Feb 23 - Mar 2,
    # Mar (T = Mar 15 12:00) by Mar 9 - Mar 16. Became a customer on Feb 23.
    s.customer("cus_weekly", "2026-02-20", name="Weekly Co")
    s.subscription("sub_weekly", "cus_weekly", "2026-02-23", [("si_weekly", "price_w10", "2026-03-16")])
    for n, (a, b) in enumerate([("2026-02-23", "2026-03-02"), ("2026-03-02", "2026-03-09"),
                                ("2026-03-09", "2026-03-16")]):
        s.invoice(f"in_weekly_{n}", "cus_weekly", "paid", a, [line(1000, a, b, "sub_weekly", "si_weekly", "price_w10")])

    # A trial: a $0 line, no MRR, never a customer. No name: the e-mail is the name.
    s.customer("cus_trial", "2026-03-01", email="ops@trial.example")
    s.subscription("sub_trial", "cus_trial", "2026-03-01", [("si_trial", "price_m100", "2026-03-31")],
                   status="trialing")
    s.invoice("in_trial", "cus_trial", "paid", "2026-03-01",
              [line(0, "2026-03-01", "2026-03-31", "sub_trial", "si_trial", "price_m100")])

    # Cancel at period end: $200 in Feb; March's line has $20 off (amount-off): $180, the MRR at stake;
    # cancellation scheduled for 2026-04-01.
    s.customer("cus_cancel_end", "2026-01-15", name="Leaving Co")
    s.subscription("sub_cancel_end", "cus_cancel_end", "2026-02-01", [("si_cancel_end", "price_m200", "2026-04-01")],
                   cancel_at="2026-04-01", cancel_at_period_end=True)
    s.invoice("in_cancel_end_0", "cus_cancel_end", "paid", "2026-02-01",
              [line(20000, "2026-02-01", "2026-03-01", "sub_cancel_end", "si_cancel_end", "price_m200")])
    s.invoice("in_cancel_end_1", "cus_cancel_end", "paid", "2026-03-01",
              [line(20000, "2026-03-01", "2026-04-01", "sub_cancel_end", "si_cancel_end", "price_m200",
                    discounts=(2000,))])

    # Immediate cancellation on Feb 10: $40 in Jan; Feb's line is paid but the subscription ended before
    # Feb's T, so Feb is absent. Churned 2026-02-10.
    s.customer("cus_immediate", "2025-12-28", name="Gone Co")
    s.subscription("sub_immediate", "cus_immediate", "2026-01-01", [("si_immediate", "price_m40", "2026-03-01")],
                   status="canceled", ended_at="2026-02-10", canceled_at="2026-02-10")
    s.invoice("in_immediate_0", "cus_immediate", "paid", "2026-01-01",
              [line(4000, "2026-01-01", "2026-02-01", "sub_immediate", "si_immediate", "price_m40")])
    s.invoice("in_immediate_1", "cus_immediate", "paid", "2026-02-01",
              [line(4000, "2026-02-01", "2026-03-01", "sub_immediate", "si_immediate", "price_m40")])

    # Upgrade on Feb 15 from $100 to $300 with prorations and a billing-cycle reset: Jan $100. In Feb two
    # lines of the item cover Feb 28 (Feb 1 - Mar 1 at $100, Feb 15 - Mar 15 at $300): the later start
    # counts, $300. Mar (T = Mar 15 12:00): Mar 15 - Apr 15, $300. The two proration lines are left out.
    s.customer("cus_upgrade", "2025-12-15", name="Growing Co")
    s.subscription("sub_upgrade", "cus_upgrade", "2026-01-01", [("si_upgrade", "price_m300", "2026-04-15")])
    s.invoice("in_upgrade_0", "cus_upgrade", "paid", "2026-01-01",
              [line(10000, "2026-01-01", "2026-02-01", "sub_upgrade", "si_upgrade", "price_m100")])
    s.invoice("in_upgrade_1", "cus_upgrade", "paid", "2026-02-01",
              [line(10000, "2026-02-01", "2026-03-01", "sub_upgrade", "si_upgrade", "price_m100")])
    s.invoice("in_upgrade_2", "cus_upgrade", "paid", "2026-02-15", [
        line(-5000, "2026-02-15", "2026-03-01", "sub_upgrade", "si_upgrade", "price_m100", proration=True),
        line(15000, "2026-02-15", "2026-03-01", "sub_upgrade", "si_upgrade", "price_m300", proration=True),
        line(30000, "2026-02-15", "2026-03-15", "sub_upgrade", "si_upgrade", "price_m300"),
    ])
    s.invoice("in_upgrade_3", "cus_upgrade", "open", "2026-03-15",
              [line(30000, "2026-03-15", "2026-04-15", "sub_upgrade", "si_upgrade", "price_m300")])

    # Two products on one subscription (plus a one-off setup fee, left out): Core $100 + "Core" (another
    # product of the same name) $25 = Core $125; Analytics $50. March only.
    s.customer("cus_two", "2026-02-25", name="Two Products Co")
    s.subscription("sub_two", "cus_two", "2026-03-01", [("si_two_a", "price_m100", "2026-04-01"),
                                                        ("si_two_b", "price_an50", "2026-04-01"),
                                                        ("si_two_c", "price_c25", "2026-04-01")])
    s.invoice("in_two", "cus_two", "paid", "2026-03-01", [
        line(10000, "2026-03-01", "2026-04-01", "sub_two", "si_two_a", "price_m100"),
        line(5000, "2026-03-01", "2026-04-01", "sub_two", "si_two_b", "price_an50"),
        line(2500, "2026-03-01", "2026-04-01", "sub_two", "si_two_c", "price_c25"),
        line(9900, "2026-03-01", "2026-03-01", "sub_two", None, "price_setup", kind="invoice_item_details"),
    ])

    # A metered price: its $7.50 line is left out (and reported); the licensed $20 counts. March: $20.
    s.customer("cus_metered", "2026-02-27", name="Metered Co")
    s.subscription("sub_metered", "cus_metered", "2026-03-01", [("si_met_a", "price_m20", "2026-04-01"),
                                                                ("si_met_b", "price_metered", "2026-04-01")])
    s.invoice("in_metered", "cus_metered", "paid", "2026-03-01", [
        line(2000, "2026-03-01", "2026-04-01", "sub_metered", "si_met_a", "price_m20"),
        line(750, "2026-02-01", "2026-03-01", "sub_metered", "si_met_b", "price_metered"),
    ])

    # An invoice with 12 lines (only 10 embedded: the rest read from /v1/invoices/{id}/lines) of a subscription
    # with 12 items: 12 x $10 = $120 in March.
    s.customer("cus_many", "2026-02-26", name="Many Seats Co")
    s.subscription("sub_many", "cus_many", "2026-03-01",
                   [(f"si_many_{i:02d}", "price_m10", "2026-04-01") for i in range(12)])
    s.invoice("in_many", "cus_many", "paid", "2026-03-01",
              [line(1000, "2026-03-01", "2026-04-01", "sub_many", f"si_many_{i:02d}", "price_m10") for i in range(12)])

    # JPY (zero-decimal): 10000 = 10,000 yen a month x 0.0067 = $67.00 in March; the paid invoice is $67.00.
    s.customer("cus_jpy", "2026-02-28", name="Tokyo KK", currency="jpy")
    s.subscription("sub_jpy", "cus_jpy", "2026-03-01", [("si_jpy", "price_jpy", "2026-04-01")])
    s.invoice("in_jpy", "cus_jpy", "paid", "2026-03-01",
              [line(10000, "2026-03-01", "2026-04-01", "sub_jpy", "si_jpy", "price_jpy", currency="jpy")],
              currency="jpy")

    # EUR yearly EUR 1,000 from Mar 1: 1000 / 12 x 1.08 = $90.00 a month; the paid invoice is $1,080.00.
    # Yearly: renewal_date 2027-03-01.
    s.customer("cus_eur", "2026-02-28", name="Berlin GmbH", currency="eur")
    s.subscription("sub_eur", "cus_eur", "2026-03-01", [("si_eur", "price_eur_y", "2027-03-01")])
    s.invoice("in_eur", "cus_eur", "paid", "2026-03-01",
              [line(100000, "2026-03-01", "2027-03-01", "sub_eur", "si_eur", "price_eur_y", currency="eur")],
              currency="eur")

    # Reactivation: $60 in Nov and Dec 2025 (that subscription ended Jan 1), nothing in Jan and Feb, a new
    # subscription from Mar 1: $60 in March. It has a live subscription, so no churn date.
    s.customer("cus_react", "2025-10-20", name="Back Again Co")
    s.subscription("sub_react_1", "cus_react", "2025-11-01", [("si_react_1", "price_m60", "2026-01-01")],
                   status="canceled", ended_at="2026-01-01", canceled_at="2025-12-20")
    s.subscription("sub_react_2", "cus_react", "2026-03-01", [("si_react_2", "price_m60", "2026-04-01")])
    for n, (a, b, sub, item) in enumerate([("2025-11-01", "2025-12-01", "sub_react_1", "si_react_1"),
                                           ("2025-12-01", "2026-01-01", "sub_react_1", "si_react_1"),
                                           ("2026-03-01", "2026-04-01", "sub_react_2", "si_react_2")]):
        s.invoice(f"in_react_{n}", "cus_react", "paid", a, [line(6000, a, b, sub, item, "price_m60")])


# (account, "YYYY-MM", product) -> MRR, as worked out above.
REVENUE = {
    ("cus_react", "2025-11", "Core"): "60.00",
    ("cus_react", "2025-12", "Core"): "60.00",
    ("cus_yearly", "2025-12", "Core"): "75.00",
    ("cus_monthly", "2026-01", "Core"): "100.00",
    ("cus_quarterly", "2026-01", "Core"): "100.00",
    ("cus_yearly", "2026-01", "Core"): "75.00",
    ("cus_immediate", "2026-01", "Core"): "40.00",
    ("cus_upgrade", "2026-01", "Core"): "100.00",
    ("cus_monthly", "2026-02", "Core"): "100.00",
    ("cus_quarterly", "2026-02", "Core"): "100.00",
    ("cus_yearly", "2026-02", "Core"): "75.00",
    ("cus_weekly", "2026-02", "Core"): "43.33",
    ("cus_cancel_end", "2026-02", "Core"): "200.00",
    ("cus_upgrade", "2026-02", "Core"): "300.00",
    ("cus_monthly", "2026-03", "Core"): "100.00",
    ("cus_quarterly", "2026-03", "Core"): "100.00",
    ("cus_yearly", "2026-03", "Core"): "75.00",
    ("cus_weekly", "2026-03", "Core"): "43.33",
    ("cus_cancel_end", "2026-03", "Core"): "180.00",
    ("cus_upgrade", "2026-03", "Core"): "300.00",
    ("cus_two", "2026-03", "Core"): "125.00",
    ("cus_two", "2026-03", "Analytics"): "50.00",
    ("cus_metered", "2026-03", "Core"): "20.00",
    ("cus_many", "2026-03", "Core"): "120.00",
    ("cus_jpy", "2026-03", "Core"): "67.00",
    ("cus_eur", "2026-03", "Core"): "90.00",
    ("cus_react", "2026-03", "Core"): "60.00",
}
MRR_BY_MONTH = {"2025-11": "60.00", "2025-12": "135.00", "2026-01": "415.00", "2026-02": "818.33",
                "2026-03": "1330.33"}

# account -> (name, signed_up_at, became_customer_at, churned_at, renewal_date)
ACCOUNTS = {
    "cus_monthly": ("Monthly Co", "2025-12-20", "2026-01-01", None, None),
    "cus_quarterly": ("Quarterly Co", "2025-12-01", "2026-01-01", None, None),
    "cus_yearly": ("Yearly Co", "2025-11-01", "2025-12-10", None, "2026-12-10"),
    "cus_weekly": ("Weekly Co", "2026-02-20", "2026-02-23", None, None),
    "cus_trial": ("ops@trial.example", "2026-03-01", None, None, None),
    "cus_cancel_end": ("Leaving Co", "2026-01-15", "2026-02-01", None, None),
    "cus_immediate": ("Gone Co", "2025-12-28", "2026-01-01", "2026-02-10", None),
    "cus_upgrade": ("Growing Co", "2025-12-15", "2026-01-01", None, None),
    "cus_two": ("Two Products Co", "2026-02-25", "2026-03-01", None, None),
    "cus_metered": ("Metered Co", "2026-02-27", "2026-03-01", None, None),
    "cus_many": ("Many Seats Co", "2026-02-26", "2026-03-01", None, None),
    "cus_jpy": ("Tokyo KK", "2026-02-28", "2026-03-01", None, None),
    "cus_eur": ("Berlin GmbH", "2026-02-28", "2026-03-01", None, "2027-03-01"),
    "cus_react": ("Back Again Co", "2025-10-20", "2025-11-01", None, None),
}

# Paid invoices with amount_paid > 0: invoice -> (account, issued_at, amount in USD).
INVOICES = {
    "in_monthly_0": ("cus_monthly", "2026-01-01", "100.00"),
    "in_monthly_1": ("cus_monthly", "2026-02-01", "100.00"),
    "in_quarterly": ("cus_quarterly", "2026-01-01", "300.00"),
    "in_yearly": ("cus_yearly", "2025-12-10", "900.00"),
    "in_weekly_0": ("cus_weekly", "2026-02-23", "10.00"),
    "in_weekly_1": ("cus_weekly", "2026-03-02", "10.00"),
    "in_weekly_2": ("cus_weekly", "2026-03-09", "10.00"),
    "in_cancel_end_0": ("cus_cancel_end", "2026-02-01", "200.00"),
    "in_cancel_end_1": ("cus_cancel_end", "2026-03-01", "180.00"),
    "in_immediate_0": ("cus_immediate", "2026-01-01", "40.00"),
    "in_immediate_1": ("cus_immediate", "2026-02-01", "40.00"),
    "in_upgrade_0": ("cus_upgrade", "2026-01-01", "100.00"),
    "in_upgrade_1": ("cus_upgrade", "2026-02-01", "100.00"),
    "in_upgrade_2": ("cus_upgrade", "2026-02-15", "400.00"),  # -50 + 150 + 300
    "in_two": ("cus_two", "2026-03-01", "274.00"),  # 100 + 50 + 25 + 99 setup
    "in_metered": ("cus_metered", "2026-03-01", "27.50"),
    "in_many": ("cus_many", "2026-03-01", "120.00"),
    "in_jpy": ("cus_jpy", "2026-03-01", "67.00"),  # 10000 JPY x 0.0067
    "in_eur": ("cus_eur", "2026-03-01", "1080.00"),  # 1000 EUR x 1.08
    "in_react_0": ("cus_react", "2025-11-01", "60.00"),
    "in_react_1": ("cus_react", "2025-12-01", "60.00"),
    "in_react_2": ("cus_react", "2026-03-01", "60.00"),
}

# Lines left out: void 1, uncollectible 1, draft 1, prorations 2, metered 1, the one-off setup fee 1.
LEFT_OUT = "invoice lines left out of MRR: 1 invoice draft, 1 invoice uncollectible, 1 invoice void, " \
    "1 metered price, 1 not a subscription line, 2 proration"

CANCELLATIONS = {"sub_cancel_end": ("cus_cancel_end", dt.date(2026, 4, 1), Decimal("180.00"))}
