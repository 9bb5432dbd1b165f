"""Answers as CSV text (the /atrisk "Show all" file): one row per account, every rule that fired."""

from __future__ import annotations

import csv
import io

from kpi_core.answers import AtRiskAnswer

AT_RISK_COLUMNS = ("account_id", "name", "score", "band", "owner_slack_id", "segment", "rules", "reasons")


def at_risk_csv(answer: AtRiskAnswer) -> str:
    """Every account of an /atrisk answer, worst first (the order of the answer)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(AT_RISK_COLUMNS)
    for a in answer.accounts:
        h = a.health
        writer.writerow([h.account.id, h.account.name, "" if h.score is None else h.score, h.band or "",
                         h.owner or "", h.segment or "", " | ".join(r.id for r in a.rules),
                         " | ".join(r.text for r in a.rules)])
    return out.getvalue()
