"""`POST /stripe/webhook` (csbot serve, HTTP mode): Stripe tells csbot a subscription changed or an invoice was paid.

1. The signature is checked by the `stripe` library against STRIPE_WEBHOOK_SECRET (`Stripe-Signature`
   header, 5-minute tolerance). A bad or stale signature, or a body that is not an event: 400, nothing done.
2. `customer.subscription.updated`, `customer.subscription.deleted` and `invoice.paid` re-sync that one
   customer's account (`sync_stripe(customer=...)`); other event types are acknowledged and ignored.
3. When the subscription is now set to cancel, or has ended, a warning goes to every `/atrisk` channel at
   once, mentioning the account's owner.

Exactly once: each event is claimed under the delivery key `stripe-event:{event id}` before anything is done
(Stripe sends an event again until it gets a 2xx, and may send it twice); a replay finds the key and does
nothing. Each warning is its own delivery, `stripe:{event id}:{subscription id}:{channel subscription id}`, so a
retried event never posts one twice. A failed sync answers 500 (Stripe retries later, and the retry takes the
failed claim over); a failed post is recorded and the channel's subscriber told, as for the risk scan.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import stripe

from bot.jobs.context import JobContext
from bot.jobs.posting import DeliveryFailure, LostLeadership, post_message, record_failure, record_success
from bot.render.blocks import escape, mention
from bot.settings import SettingsError
from storage import subscriptions as subs
from storage.stripe_sync.accounts import LIVE_STATUSES
from storage.stripe_sync.queries import account_brief, scheduled_cancellation
from storage.sync_report import SyncError, SyncReport

log = logging.getLogger("csbot.stripe.webhook")

PATH = "/stripe/webhook"
HANDLED = frozenset({"customer.subscription.updated", "customer.subscription.deleted", "invoice.paid"})
TOLERANCE_SECONDS = 300
MAX_BODY_BYTES = 1 << 20


@dataclass(frozen=True)
class Outcome:
    status: int
    body: str


@dataclass
class StripeWebhook:
    ctx: JobContext  # the store, the Slack client, the clock
    secret: str
    sync_customer: Callable[[str], SyncReport]  # re-sync one customer's account
    account_of: Callable[[str], str]  # Stripe customer id -> csbot account id
    tolerance: int = TOLERANCE_SECONDS

    def handle(self, payload: bytes, signature: str | None) -> Outcome:
        try:
            event = stripe.Webhook.construct_event(payload, signature, self.secret, self.tolerance)
        except stripe.SignatureVerificationError:
            return Outcome(400, "bad or stale Stripe-Signature\n")
        except ValueError:
            return Outcome(400, "not a Stripe event\n")
        data = event.to_dict()
        kind, event_id = data.get("type"), data.get("id")
        obj = (data.get("data") or {}).get("object") or {}
        customer = obj.get("customer")
        customer = customer.get("id") if isinstance(customer, dict) else customer
        if kind not in HANDLED or not event_id or not customer:
            return Outcome(200, "ignored\n")
        key = f"stripe-event:{event_id}"
        if not self._claim(key, event_id):
            return Outcome(200, "already handled\n")
        try:
            self.sync_customer(customer)
        except (SyncError, SettingsError) as exc:
            log.error("Stripe event %s (%s): the sync of %s failed: %s", event_id, kind, customer, exc)
            subs.mark_failed(self.ctx.engine, key, error=str(exc), now=self.ctx.now(), retry_at=None)
            return Outcome(500, "sync failed; retry later\n")
        if kind.startswith("customer.subscription."):
            self._warn(event_id, kind, obj, customer)
        subs.mark_posted(self.ctx.engine, key, message_ts=None, now=self.ctx.now())
        return Outcome(200, "ok\n")

    def _claim(self, key: str, event_id: str) -> bool:
        """Claim the event; a replay of a handled (or in-flight) event is refused, a failed one taken over."""
        engine, now, me = self.ctx.engine, self.ctx.now(), self.ctx.identity
        if subs.claim_delivery(engine, key, channel_id="stripe", kind="alert", period_key=event_id,
                               claimed_by=me, now=now):
            return True
        return subs.take_over_delivery(engine, key, from_state="failed", claimed_by=me, now=now)

    def _warn(self, event_id: str, kind: str, sub: dict[str, Any], customer: str) -> None:
        """Post the cancellation warning to every /atrisk channel (each once), when there is one to post."""
        text = self._warning_text(kind, sub, customer)
        if text is None:
            return
        for risk in subs.active_subscriptions(self.ctx.engine, "risk"):
            key = f"stripe:{event_id}:{sub.get('id')}:{risk.id}"
            if not subs.claim_delivery(self.ctx.engine, key, channel_id=risk.channel_id, kind="alert",
                                       period_key=event_id, claimed_by=self.ctx.identity, now=self.ctx.now(),
                                       subscription_id=risk.id):
                continue
            try:
                posted = post_message(self.ctx, channel=risk.channel_id, key=key, text=text, blocks=None)
            except (DeliveryFailure, LostLeadership) as exc:
                record_failure(self.ctx, key, risk, exc, deadline=None)
                continue
            record_success(self.ctx, key, risk, posted)

    def _warning_text(self, kind: str, sub: dict[str, Any], customer: str) -> str | None:
        status = sub.get("status") or ""
        now = int(self.ctx.now().timestamp())
        ended = kind == "customer.subscription.deleted" or status not in LIVE_STATUSES
        scheduled = not ended and (bool(sub.get("cancel_at_period_end")) or (sub.get("cancel_at") or 0) > now)
        if not (ended or scheduled):
            return None
        sub_id = str(sub.get("id") or "")
        cancellation = scheduled_cancellation(self.ctx.engine, sub_id) if scheduled else None
        account_id = cancellation.account_id if cancellation else self.account_of(customer)
        brief = account_brief(self.ctx.engine, account_id)
        who = f"*{escape(brief.name)}* (`{escape(brief.id)}`)" if brief else f"`{escape(account_id)}`"
        owner = f"{mention(brief.owner)} " if brief and brief.owner else ""
        if scheduled:
            when = cancellation.cancel_on if cancellation else _day(sub.get("cancel_at"))
            stake = f" (MRR at stake {cancellation.mrr:,.2f})" if cancellation else ""
            what = f"cancellation scheduled for {when.isoformat() if when else 'the period end'}{stake}"
        else:
            when = _day(sub.get("ended_at") or sub.get("canceled_at"))
            what = f"subscription ended{f' on {when.isoformat()}' if when else ''}"
        return f":warning: {owner}{who}: {what} (Stripe subscription `{escape(sub_id)}`)"


def _day(ts: Any) -> dt.date | None:
    return dt.datetime.fromtimestamp(int(ts), dt.UTC).date() if ts else None
