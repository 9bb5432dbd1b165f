"""Generated README sections: the KPI table (from the catalog) and the settings table (from SETTINGS).

`python -m bot.docs` rewrites them in place; a test fails when they are stale.
"""

from __future__ import annotations

import re
from pathlib import Path

from bot.settings import SETTINGS
from kpi_core.catalog import catalog

README = Path(__file__).resolve().parents[1] / "README.md"


def kpi_table() -> str:
    rows = ["| id | KPI | formula | unit |", "|---|---|---|---|"]
    for k in catalog().all():
        name = k.name + (f" (also {', '.join(k.aliases)})" if k.aliases else "")
        rows.append(f"| `{k.id}` | {name} | {k.formula} | {k.unit} |")
    return "\n".join(rows)


def settings_table() -> str:
    rows = ["| variable | default | what it does |", "|---|---|---|"]
    for s in SETTINGS:
        default = f"`{s.default}`" if s.default else "-"
        rows.append(f"| `{s.env}` | {default} | {s.help} |")
    return "\n".join(rows)


SECTIONS = {"kpi-table": kpi_table, "settings-table": settings_table}


def render(readme: str) -> str:
    for name, build in SECTIONS.items():
        pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", re.S)
        if not pattern.search(readme):
            raise ValueError(f"README has no <!-- {name}:start --> ... <!-- {name}:end --> markers")
        readme = pattern.sub(lambda m, b=build: m.group(1) + b() + "\n" + m.group(2), readme)
    return readme


if __name__ == "__main__":
    README.write_text(render(README.read_text()))
