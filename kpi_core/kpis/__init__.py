"""Every KPI family; the catalog is the concatenation of their KPIS lists."""

from kpi_core.kpis import surveys

ALL_KPIS = [*surveys.KPIS]
