"""Every KPI family; the catalog is the concatenation of their KPIS lists."""

from kpi_core.kpis import activity, customers, health, movements, revenue, surveys

ALL_KPIS = [
    *surveys.KPIS,
    *customers.KPIS,
    *revenue.KPIS,
    *movements.KPIS,
    *activity.KPIS,
    *health.KPIS,
]
