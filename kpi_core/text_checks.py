"""Command text that cannot be a question: control characters (NUL and friends) are a user error, on any engine."""

from __future__ import annotations

import unicodedata

from kpi_core.types import UserError

_ALLOWED = {"\t", "\n", "\r"}  # whitespace Slack may pass through; the parser splits on it


def check_command_text(text: str) -> None:
    """Raise UserError when `text` holds a control character (Postgres rejects NUL outright)."""
    for ch in text:
        if ch not in _ALLOWED and unicodedata.category(ch) == "Cc":
            code = f"U+{ord(ch):04X}"
            raise UserError(f"The command contains a control character ({code}), which cannot be part of a "
                            "question. Type it again (or paste it as plain text) without it.")
