"""KPI family: customers (being written)."""

KPIS: list = []
