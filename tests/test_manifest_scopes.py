"""Every Slack Web API method the code calls has its scopes in the manifest: the code is scanned for calls."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from bot.manifest import BOT_SCOPES, METHOD_SCOPES

ROOT = Path(__file__).resolve().parents[1]
CALL = re.compile(r"\bclient\.((?:chat|conversations|users|files|views|auth|reactions|team|apps|pins|bookmarks|"
                  r"usergroups|dnd|emoji|oauth|openid|reminders|search|stars|admin|im|mpim|channels|groups)"
                  r"_[A-Za-z0-9_]+)\(")
API_CALL = re.compile(r"\bapi_call\(\s*[\"']([a-zA-Z.]+)[\"']")


def called_methods() -> dict[str, list[str]]:
    """Web API method -> the files that call it, over bot/, kpi_core/ and storage/."""
    found: dict[str, list[str]] = {}
    for folder in ("bot", "kpi_core", "storage"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            text = path.read_text()
            for name in CALL.findall(text):
                found.setdefault(name.replace("_", "."), []).append(str(path.relative_to(ROOT)))
            for name in API_CALL.findall(text):
                found.setdefault(name, []).append(str(path.relative_to(ROOT)))
    return found


def test_the_scan_finds_the_calls_we_know_of():
    methods = called_methods()
    for known in ("chat.postMessage", "conversations.info", "users.info", "files.upload.v2", "conversations.open"):
        assert known in methods


def test_every_called_method_has_its_scopes_in_the_manifest():
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    granted = set(manifest["oauth_config"]["scopes"]["bot"])
    assert granted == set(BOT_SCOPES)
    for method, files in called_methods().items():
        assert method in METHOD_SCOPES, f"{method} (called in {files}) needs an entry in bot.manifest.METHOD_SCOPES"
        missing = set(METHOD_SCOPES[method]) - granted
        assert not missing, f"{method} (called in {files}) needs {sorted(missing)} in the manifest's bot scopes"


def test_user_and_channel_lookups_have_their_read_scopes():
    granted = set(BOT_SCOPES)
    assert {"channels:read", "groups:read", "users:read"} <= granted
