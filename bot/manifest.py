"""The Slack app manifest, generated from the command table and the KPI catalog (manifest.yml is its output)."""

from __future__ import annotations

from typing import Any

import yaml

from kpi_core.catalog import catalog

SHORTCUT_DESCRIPTIONS = {
    "/nps": "Net Promoter Score",
    "/csat": "Customer satisfaction (CSAT)",
    "/churn": "Customer churn rate",
    "/nrr": "Net revenue retention",
    "/mrr": "Monthly recurring revenue",
}
SCOPE_HINT = "[period] [account | segment:NAME | owner:@user]"

BOT_SCOPES = [
    "commands", "chat:write",
    "files:write",  # the digest chart, the /atrisk "Show all" CSV
    "im:write",  # telling a subscriber that their subscription fails; sending a "Show all" CSV
    "channels:history", "groups:history",  # finding a post whose recording was cut short (exactly once)
    "channels:read", "groups:read",  # conversations.info: the channel creator's time zone, Slack Connect
    "users:read",  # users.info: the time zone of a channel creator or of a personal warning's recipient
    "users:read.email",  # owners given by e-mail: users.lookupByEmail
    "app_mentions:read",  # questions asked by mentioning the bot
    "im:history",  # questions in a DM (message.im), and personal warnings found again in the DM
    "usergroups:read",  # CSBOT_ALLOWED_USERS etc. may name user groups (usergroups.list, usergroups.users.list)
]
BOT_EVENTS = [
    "app_home_opened",  # the Home tab ("My accounts")
    "app_mention",  # questions in channels, answered in a thread
    "message.im",  # questions in a DM
    "app_uninstalled", "tokens_revoked",  # purge the workspace's installation and subscriptions
]

METHOD_SCOPES: dict[str, tuple[str, ...]] = {
    "auth.test": (),
    "chat.postMessage": ("chat:write",),
    "chat.postEphemeral": ("chat:write",),
    "chat.update": ("chat:write",),
    "chat.delete": ("chat:write",),
    "conversations.history": ("channels:history", "groups:history"),
    "conversations.info": ("channels:read", "groups:read"),
    "conversations.open": ("im:write",),
    "files.upload.v2": ("files:write",),  # files_upload_v2: getUploadURLExternal + completeUploadExternal
    "users.info": ("users:read",),
    "users.lookupByEmail": ("users:read.email",),
    "usergroups.list": ("usergroups:read",),
    "usergroups.users.list": ("usergroups:read",),
    "views.publish": (),
    "files.getUploadURLExternal": ("files:write",),
    "files.completeUploadExternal": ("files:write",),
    "oauth.v2.access": (),  # the OAuth install flow (client id and secret, no bot scope)
    "views.open": (),
}
"""Scopes each Slack Web API method csbot calls needs (tests/test_manifest_scopes.py scans the code for calls)."""


def slash_commands() -> list[dict[str, str]]:
    """Every slash command csbot handles, with description and usage hint."""
    ids = ", ".join(k.id for k in catalog().all())
    commands = [
        {"command": "/kpi", "description": f"Any customer-success KPI: {ids}"[:2000],
         "usage_hint": f"<kpi id> {SCOPE_HINT} [by segment|owner|month|week] | list | help [id] | segments | owners"
                       " | features | status"},
    ]
    commands += [{"command": c, "description": d, "usage_hint": SCOPE_HINT} for c, d in SHORTCUT_DESCRIPTIONS.items()]
    commands += [
        {"command": "/health", "description": "Health score of an account, or of all customers",
         "usage_hint": "[account] [as-of date] | backtest"},
        {"command": "/atrisk", "description": "Customers at risk of churning, with the reasons",
         "usage_hint": "[segment:NAME] [owner:@user | mine] | subscribe [me] | unsubscribe [me]"},
        {"command": "/digest", "description": "Weekly KPI digest for this channel",
         "usage_hint": "preview | subscribe [day] [HH:MM] [time zone] [kpi ids] | unsubscribe | list"},
    ]
    return [{**c, "should_escape": True} for c in commands]


def build_manifest(request_url: str | None = None) -> dict[str, Any]:
    """Socket Mode by default (no public URL needed); HTTP mode when `request_url` is given."""
    commands = slash_commands()
    interactivity: dict[str, Any] = {"is_enabled": True}
    events: dict[str, Any] = {"bot_events": list(BOT_EVENTS)}
    if request_url:
        commands = [{**c, "url": request_url} for c in commands]
        interactivity["request_url"] = request_url
        events = {"request_url": request_url, **events}
    return {
        "display_information": {
            "name": "csbot",
            "description": "Customer-success KPIs, health scores and churn-risk warnings, explained.",
            "long_description": (
                "csbot answers customer-success questions in Slack: /nps last-quarter, /health acme, /atrisk. "
                "Every answer shows its period, the change against the previous period, the sample size and "
                "the formula behind it. Answers are private until you share them. Open source; runs on your "
                "own database."
            ),
            "background_color": "#1f3a5f",
        },
        "features": {
            "app_home": {"home_tab_enabled": True, "messages_tab_enabled": True,
                         "messages_tab_read_only_enabled": False},
            "bot_user": {"display_name": "csbot", "always_online": True},
            "slash_commands": commands,
        },
        "oauth_config": {"scopes": {"bot": list(BOT_SCOPES)}},
        "settings": {
            "event_subscriptions": events,
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": request_url is None,
            "token_rotation_enabled": False,
        },
    }


def manifest_yaml(request_url: str | None = None) -> str:
    header = (
        "# Slack app manifest for csbot (generated by `csbot manifest`; edit bot/manifest.py, not this file).\n"
        "# Socket Mode: paste as is at https://api.slack.com/apps -> Create New App -> From a manifest.\n"
        "# HTTP mode: `csbot manifest --url https://YOUR-HOST/slack/events > manifest.yml` first.\n"
    )
    return header + yaml.safe_dump(build_manifest(request_url), sort_keys=False, width=110)
