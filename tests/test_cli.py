"""The `csbot` command line as a user runs it (subprocesses): exit codes, one-line errors, JSON on stdout."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.server import RedactSecrets

CSBOT = [sys.executable, "-m", "bot.cli"]
ROOT = Path(__file__).resolve().parents[1]


def run(args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None, stdin: str | None = None):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CSBOT_"))}
    clean["PYTHONPATH"] = str(ROOT)
    return subprocess.run(CSBOT + args, env=clean | (env or {}), cwd=cwd, input=stdin, capture_output=True,
                          text=True, timeout=240)


@pytest.mark.parametrize("env,named", [
    ({}, "SLACK_BOT_TOKEN is not set"),
    ({"SLACK_BOT_TOKEN": "not-a-token"}, "SLACK_BOT_TOKEN is malformed"),
    ({"SLACK_BOT_TOKEN": "xoxb-1-2-abc"}, "SLACK_SIGNING_SECRET is not set"),
])
def test_serve_stops_with_one_line_naming_the_credential(tmp_path, env, named):
    result = run(["serve", "--db", f"sqlite:///{tmp_path}/x.db"], env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0] and "Traceback" not in result.stderr


def test_ask_json_and_user_errors(tmp_path):
    csv_dir = tmp_path / "csv"
    csv_dir.mkdir()
    (csv_dir / "accounts.csv").write_text(
        "account_id,name,signed_up_at,became_customer_at\n007,Bond Ltd,2026-01-01,2026-01-02\n")
    (csv_dir / "surveys.csv").write_text(
        "response_id,account_id,survey,score,responded_at\nr1,007,nps,10,2026-03-04T10:15:00Z\n"
        "r2,007,nps,5,2026-03-05T10:15:00+02:00\n")
    db = f"sqlite:///{tmp_path}/store.db"
    imported = run(["import", str(csv_dir), "--db", db])
    assert imported.returncode == 0, imported.stderr
    assert "surveys: 2 rows" in imported.stdout
    ok = run(["ask", "/nps 2026-03 bond", "--json", "--db", db])
    assert ok.returncode == 0, ok.stderr
    answer = json.loads(ok.stdout)
    # 1 promoter, 1 detractor of 2 responses: 100 x 0 / 2 = 0
    assert (answer["kpi"], answer["value"], answer["period"]["start"], answer["scope"]["account"]["id"]) == (
        "nps", 0.0, "2026-03-01", "007")
    for text in ("/nps 2026-13", "/kpi nope", "/nps \"'; DROP TABLE accounts; --", "/nps zzz"):
        bad = run(["ask", text, "--json", "--db", db, "--as-of", "2026-11-22"])
        assert bad.returncode == 1 and set(json.loads(bad.stdout)) >= {"error"}
    still = run(["ask", "/nps 2026-03", "--json", "--db", db])
    assert json.loads(still.stdout)["sample"]["size"] == 2


def test_bad_import_lists_problems_and_changes_nothing(tmp_path):
    db = f"sqlite:///{tmp_path}/store.db"
    csv_dir = tmp_path / "csv"
    csv_dir.mkdir()
    (csv_dir / "accounts.csv").write_text("account_id,name,signed_up_at\na,A,2026-01-01\nb,B,2026/01/05\n")
    result = run(["import", str(csv_dir), "--db", db])
    assert result.returncode == 1
    assert "store is unchanged" in result.stderr
    assert "accounts.csv:3: signed_up_at:" in result.stderr
    empty = run(["ask", "/kpi customers 2026", "--json", "--db", db, "--as-of", "2026-11-22"])
    # the store exists but holds no account: the answer says how to fill it, not "0 customers"
    assert empty.returncode == 1 and "run `csbot import` first" in json.loads(empty.stdout)["error"]


def test_secrets_are_redacted_from_logs(caplog):
    logger = logging.getLogger("csbot.test-redact")
    logger.addFilter(RedactSecrets(["8f742231b10e8888abcd99yyyzzz85a5"]))
    with caplog.at_level(logging.INFO):
        logger.info("token %s app %s secret %s", "xoxb-1234-abcd", "xapp-1-A0-xyz", "8f742231b10e8888abcd99yyyzzz85a5")
    text = caplog.text
    assert "xoxb-1234" not in text and "xapp-1" not in text and "8f742231" not in text
    assert text.count("[redacted]") == 3


def test_ask_mine_says_it_needs_slack(tmp_path):
    db = f"sqlite:///{tmp_path}/store.db"
    assert run(["init-db", "--db", db]).returncode == 0
    result = run(["ask", "/health mine", "--json", "--db", db])
    assert result.returncode == 1 and "works in Slack only" in json.loads(result.stdout)["error"]
