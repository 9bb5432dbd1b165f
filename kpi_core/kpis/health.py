"""KPI family: health (being written)."""

KPIS: list = []
