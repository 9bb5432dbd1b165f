"""The trust fixes as a user meets them on the command line (subprocesses, SQLite and Postgres)."""

from __future__ import annotations

import json

import pytest

from tests.test_cli import run

ACCOUNTS = ("account_id,name,segment,owner_slack_id,signed_up_at,became_customer_at\n"
            "A1,Acme,enterprise,U0ANA,2026-01-05,2026-01-10\nA2,Beta,smb,U0BOB,2026-01-06,2026-02-01\n")


@pytest.fixture(params=["sqlite", "postgres"])
def db(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/team.db"
    return request.getfixturevalue("pg_url")


def _folder(tmp_path, name, files):
    folder = tmp_path / name
    folder.mkdir()
    for file, text in files.items():
        (folder / file).write_text(text)
    return folder


def test_reading_commands_on_a_missing_store_fail_and_create_nothing(tmp_path):
    path = tmp_path / "absent.db"
    for args in (["ask", "/nps"], ["ask", "/nps", "--json"], ["delete-account", "A1", "--yes"]):
        result = run([*args, "--db", f"sqlite:///{path}"])
        assert result.returncode == 1
        assert "No csbot store at sqlite:///" in result.stdout + result.stderr
        assert "run `csbot import` first" in result.stdout + result.stderr
        assert "Traceback" not in result.stderr
    assert not path.exists()


def test_replace_and_delete_account(db, tmp_path):
    assert run(["import", str(_folder(tmp_path, "a", {"accounts.csv": ACCOUNTS})), "--db", db]).returncode == 0
    only_a1 = _folder(tmp_path, "b", {"accounts.csv": "account_id,name,signed_up_at\nA1,Acme,2026-01-05\n"})
    refused = run(["import", "--replace", str(only_a1), "--db", db], stdin="")
    assert refused.returncode == 1
    assert "This deletes 1 account (A2)." in refused.stderr and "add --yes" in refused.stderr
    kept = json.loads(run(["ask", "/kpi segments", "--json", "--db", db]).stdout)
    assert kept["values"] == [{"value": "enterprise", "accounts": 1}, {"value": "smb", "accounts": 1}]
    done = run(["import", "--replace", "--yes", str(only_a1), "--db", db])
    assert done.returncode == 0, done.stderr
    assert "accounts: 1 row from" in done.stdout  # "1 row", not "1 rows"
    segments = json.loads(run(["ask", "/kpi segments", "--json", "--db", db]).stdout)
    assert segments["values"] == [{"value": "enterprise", "accounts": 1}]  # A1 kept its segment
    gone = run(["delete-account", "A1", "--yes", "--db", db])
    assert gone.returncode == 0 and "Deleted 1 account (A1)" in gone.stdout
    empty = run(["ask", "/nps", "--json", "--db", db])
    assert empty.returncode == 1 and "no accounts yet" in json.loads(empty.stdout)["error"]


def test_demo_uses_its_own_store_and_team_imports_refuse_it(tmp_path):
    demo = run(["demo", "--accounts", "20", "--as-of", "2026-11-22"], cwd=tmp_path, stdin="/kpi segments\nquit\n")
    assert demo.returncode == 0, demo.stderr
    assert (tmp_path / "csbot-demo.db").exists() and not (tmp_path / "csbot.db").exists()
    into_demo = run(["import", str(_folder(tmp_path, "a", {"accounts.csv": ACCOUNTS})),
                     "--db", "sqlite:///csbot-demo.db"], cwd=tmp_path)
    assert into_demo.returncode == 1 and "holds csbot's demo data" in into_demo.stderr
    assert "Start clean" in into_demo.stderr
    team = f"sqlite:///{tmp_path}/team.db"
    assert run(["import", str(tmp_path / "a"), "--db", team]).returncode == 0
    refused = run(["demo", "--db", team], stdin="quit\n")
    assert refused.returncode == 1 and "holds your own data" in refused.stderr


def test_digest_preview_in_demo_and_dry_run_chart_out_with_csbot_now(tmp_path):
    demo = run(["demo", "--accounts", "20"], cwd=tmp_path, stdin="/digest preview\nquit\n",
               env={"CSBOT_NOW": "2026-11-23T08:00:00Z"})
    assert demo.returncode == 0, demo.stderr
    # CSBOT_NOW (Monday 23 November 2026) is "now": the last complete week is week 47 (16-22 November)
    assert "Weekly digest: week 47 of 2026" in demo.stdout
    db = f"sqlite:///{tmp_path}/csbot-demo.db"
    chart = tmp_path / "digest.png"
    dry = run(["digest", "--channel", "C0TEST", "--dry-run", "--chart-out", str(chart), "--db", db],
              env={"CSBOT_NOW": "2026-11-23T08:00:00Z"})
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("Weekly digest: week 47 of 2026")
    assert chart.read_bytes().startswith(b"\x89PNG")
    assert "will be unused" not in dry.stderr + demo.stderr


def test_ctrl_d_at_the_demo_prompt_ends_the_line(tmp_path):
    import os
    import pty
    import subprocess
    import time

    from tests.test_cli import CSBOT, ROOT

    assert run(["demo", "--accounts", "20"], cwd=tmp_path, stdin="quit\n").returncode == 0  # the store exists
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CSBOT_"))}
    env |= {"PYTHONPATH": str(ROOT), "HOME": str(tmp_path), "TERM": "dumb"}
    proc = subprocess.Popen(CSBOT + ["demo"], cwd=tmp_path, stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + 120
    sent = False
    while time.monotonic() < deadline:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        out += chunk
        if not sent and b"csbot> " in out:
            os.write(master, b"\x04")  # Ctrl-D
            sent = True
        if proc.poll() is not None and not chunk:
            break
    proc.wait(timeout=30)
    os.close(master)
    assert sent and proc.returncode == 0
    tail = out.split(b"csbot> ")[-1]
    assert tail.replace(b"\r", b"").startswith(b"\n")  # the shell's next prompt starts on a line of its own
