"""The one reply path of slash commands and buttons: text -> kpi_core answer -> blocks -> Slack."""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import uuid
from typing import Any

from slack_sdk import WebClient
from slack_sdk.models.blocks import ActionsBlock

from bot.access import limited_text, user_of
from bot.delivery import DeliveryError, respond
from bot.redact import money_kpi_asked, without_money
from bot.render.blocks import (
    ambiguous_blocks,
    answer_blocks,
    answer_text,
    blocks_json,
    error_blocks,
    escape,
)
from bot.render.failures import failure_kind, failure_message
from bot.services import Services
from kpi_core.answers import Answer, ask
from kpi_core.commands import help_text, split_command
from kpi_core.periods import PeriodError
from kpi_core.types import AmbiguousAccountError, UserError

log = logging.getLogger("csbot.replies")


def encode_request(text: str, today: dt.date) -> str:
    """A button value that lets the same question be asked again later with the same 'today'."""
    return json.dumps({"t": text, "d": today.isoformat()}, separators=(",", ":"))


def decode_request(value: str) -> tuple[str, dt.date]:
    data = json.loads(value)
    return str(data["t"]), dt.date.fromisoformat(data["d"])


def team_of(body: dict[str, Any]) -> str:
    return body.get("team_id") or (body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id") \
        or ""


def channel_of(body: dict[str, Any]) -> str | None:
    return body.get("channel_id") or (body.get("channel") or {}).get("id")


def command_text(body: dict[str, Any]) -> str:
    return f"{body.get('command', '/kpi')} {body.get('text') or ''}".strip()


def _usage(text: str) -> str:
    try:
        head, _ = split_command(text)
    except UserError:
        return help_text()
    return help_text(head)


def _replace_account(text: str, typed: str, account_id: str) -> str:
    """The command text with the ambiguous account words replaced by one candidate's id."""
    quoted = f'"{account_id}"'
    if typed and typed in text:
        return text.replace(typed, quoted, 1)
    return f"{text} {quoted}"


def build_reply(services: Services, text: str, today: dt.date, *, money: bool = True,
                share: bool = True) -> tuple[dict[str, Any], Answer | None]:
    """The Slack message answering `text` (an answer, a question about the account, or an explanation).

    `money` False: a money KPI gets the polite refusal and health cards lose their amounts; `share` False:
    no "Share in channel" button (an answer already in a thread or DM, or a Slack Connect channel).
    """
    if not money and (kpi := money_kpi_asked(text)):
        message = f"{limited_text()}. `{kpi}` is a revenue figure; the other KPIs (`/kpi list`) are yours to ask."
        return {"blocks": blocks_json(error_blocks(message)), "text": escape(message)}, None
    try:
        answer = ask(services.engine, text, today, services.kpi_config)
        if not money:
            answer = without_money(answer)
    except AmbiguousAccountError as exc:
        values = [encode_request(_replace_account(text, exc.text, c.id), today) for c in exc.candidates]
        return {"blocks": blocks_json(ambiguous_blocks(exc, values)), "text": escape(str(exc))}, None
    except (UserError, PeriodError) as exc:
        message = exc.reason if isinstance(exc, PeriodError) else str(exc)
        return {"blocks": blocks_json(error_blocks(message, _usage(text))), "text": escape(message)}, None
    share_value = encode_request(text, today) if share else None
    blocks = answer_blocks(answer, share_value=share_value)
    at = len(blocks) - 1 if blocks and isinstance(blocks[-1], ActionsBlock) else len(blocks)
    blocks[at:at] = freshness_blocks(services, answer)  # under the answer, above the share button
    return {"blocks": blocks_json(blocks), "text": answer_text(answer)}, answer


def freshness_blocks(services: Services, answer: Answer) -> list:
    """"Data as of ..." and the stale / failed-source warnings for `answer` (nothing when never loaded)."""
    from bot.render.freshness_blocks import answer_freshness_blocks
    from bot.sources import freshness_policy
    from kpi_core import clock
    from kpi_core.freshness import answer_freshness

    with services.engine.connect() as conn:
        fresh = answer_freshness(conn, answer, clock.utcnow(), freshness_policy())
    return answer_freshness_blocks(fresh, services.kpi_config.tz)


def reply(services: Services, client: WebClient, body: dict[str, Any], text: str, today: dt.date,
          **extra: Any) -> None:
    """Answer `text` to the person who asked, ephemerally; any failure ends in an apology with a request id.

    Money follows CSBOT_REVENUE_VIEWERS; no Share button in a Slack Connect channel.
    """
    request_id = uuid.uuid4().hex[:12]
    try:
        team, user = team_of(body), user_of(body)
        money = services.access.sees_money(client, team, user)
        share = not services.access.is_external(client, channel_of(body))
        message, _ = build_reply(services, text, today, money=money, share=share)
    except Exception as exc:
        log_failure(request_id, exc, repr(text[:200]))
        message = failure_message(exc, request_id)
    try:
        respond(client, body, {**message, **extra})
    except DeliveryError:
        log.exception("request %s: answer could not be delivered", request_id)


def log_failure(request_id: str, error: BaseException, what: str) -> None:
    """A timeout or an unreachable database in one line; anything else with its traceback."""
    kind = failure_kind(error)
    if kind == "error":
        log.error("request %s failed %s", request_id, what, exc_info=error)
    else:
        log.warning("request %s failed %s: %s (%s)", request_id, what, kind, error.__class__.__name__)


def guarded(listener):
    """Run work after the ack (bot/workers.py) so that any unexpected error is logged once with a request id
    and the user gets a short message with that id: too slow, database not answering, or an apology (this work
    runs outside Bolt's error handler)."""

    @functools.wraps(listener)
    def run(**kwargs: Any) -> None:
        try:
            listener(**kwargs)
        except Exception as exc:
            request_id = uuid.uuid4().hex[:12]
            log_failure(request_id, exc, f"in {listener.__name__}")
            body, client = kwargs.get("body") or {}, kwargs.get("client")
            try:
                respond(client, body, failure_message(exc, request_id))
            except Exception:
                log.exception("request %s: the apology could not be delivered either", request_id)

    return run
