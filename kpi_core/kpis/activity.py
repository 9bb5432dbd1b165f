"""KPI family: activity (being written)."""

KPIS: list = []
