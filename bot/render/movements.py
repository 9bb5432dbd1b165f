"""MRR movements in words: one line per kind (new, expansion, ...) with its top accounts; used by Slack,
the terminal and the digest."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

LABELS = {"new": "New", "expansion": "Expansion", "reactivation": "Reactivation", "contraction": "Contraction",
          "churned": "Churned"}
SIGNS = {"new": "+", "expansion": "+", "reactivation": "+", "contraction": "-", "churned": "-"}


def is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) or value is None


def movement_lines(breakdown: dict[str, Any], top: int = 3, mrkdwn: bool = False,
                   esc: Callable[[str], str] = str) -> list[str]:
    """'New +472.00 (5 accounts): Two Products Co 175.00, Many Seats Co 120.00, ...' for each kind that moved.

    `mrkdwn` bolds the kind; `esc` escapes account names (Slack)."""
    out = []
    for kind, label in LABELS.items():
        amount, count = breakdown.get(f"{kind}_mrr") or 0.0, breakdown.get(f"{kind}_accounts") or 0
        if not count:
            continue
        leaders = (breakdown.get("top") or {}).get(kind, [])[:top]
        names = ", ".join(f"{esc(a['name'])} {a['amount']:,.2f}" for a in leaders)
        more = count - len(leaders)
        tail = f"{names}{f', and {more} more' if more > 0 else ''}"
        head = f"*{label}*" if mrkdwn else label
        out.append(f"{head} {SIGNS[kind]}{amount:,.2f} ({count} account{'s' if count != 1 else ''}): {tail}")
    return out or ["No account's MRR moved."]
