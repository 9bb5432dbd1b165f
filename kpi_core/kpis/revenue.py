"""KPI family: revenue (being written)."""

KPIS: list = []
