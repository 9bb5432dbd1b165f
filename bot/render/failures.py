"""What the user sees when an answer could not be computed: too slow, database away, or a bug (with a reference)."""

from __future__ import annotations

from typing import Any

from bot.render.blocks import apology_blocks, blocks_json, escape
from storage.timeouts import current_timeout, is_timeout, is_unreachable


def _message(text: str) -> dict[str, Any]:
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def too_long_text(request_id: str, seconds: float | None) -> str:
    limit = f" (over {seconds:g} s)" if seconds else ""
    return (f":hourglass: That took too long{limit} and was stopped. Try a shorter period or a narrower scope; "
            f"if it keeps happening, give your csbot admin this reference: `{escape(request_id)}`.")


def not_answering_text(request_id: str) -> str:
    return (":electric_plug: The database is not answering right now, so I cannot answer. Try again in a few "
            f"minutes; if it lasts, tell your csbot admin (reference `{escape(request_id)}`).")


def failure_message(error: BaseException, request_id: str) -> dict[str, Any]:
    """The reply for an unexpected failure: a timeout, an unreachable database, or the generic apology."""
    if is_timeout(error):
        return _message(too_long_text(request_id, current_timeout()))
    if is_unreachable(error):
        return _message(not_answering_text(request_id))
    return {"blocks": blocks_json(apology_blocks(request_id)),
            "text": f"Something went wrong (reference {request_id})."}


def failure_kind(error: BaseException) -> str:
    """'timeout', 'unreachable' or 'error': for the log line."""
    return "timeout" if is_timeout(error) else "unreachable" if is_unreachable(error) else "error"
