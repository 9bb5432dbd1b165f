"""Load benchmark (a script, not a test): mixed slash commands against the real app on a 10k-account Postgres store.

    nice -n 10 .venv/bin/python bench/load_bench.py [--accounts 10000] [--usage-scale 0.31] [--commands 200]
                                                    [--concurrency 20] [--pg-url URL] [--pg-schema csbot_load]
                                                    [--out docs/benchmarks.md]

1. The store: demo data (storage.demo_data.write_demo_csvs, seed 7, as of 2026-11-22) imported into the
   Postgres schema `--pg-schema` (reused when it already holds `--accounts` accounts).
2. The app as `csbot serve` runs it in HTTP mode (waitress, the gate, the answer pool with default settings),
   on loopback, answering through a local Slack stand-in (tests/slack_wire).
3. `--concurrency` simulated users each send a signed slash command, wait for its answer (through the
   response_url) and send the next, until `--commands` commands were sent: a mix of KPI questions, health and
   at-risk lists, account lookups (exact, typo, hostile 240-word text) and the catalog.
4. Reported: ack latency (HTTP POST until the server answered) p50/p95/max, answer latency, how many were
   told "busy", and that every command got exactly one answer (a 'Working on it…' note aside). Then account
   matching alone: `find_account` for a typo, a 240-word and a 479-character query on the same store.
The figures replace the block between the load-bench markers of `--out`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import statistics
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.app import build_app  # noqa: E402
from bot.server import make_http_server  # noqa: E402
from bot.services import Services  # noqa: E402
from bot.settings import load_slack_settings  # noqa: E402
from bot.workers import BUSY_TEXT, WORKING_TEXT, AnswerPool  # noqa: E402
from kpi_core.accounts import find_account  # noqa: E402
from kpi_core.config import load_config  # noqa: E402
from kpi_core.types import UserError  # noqa: E402
from storage.db import make_engine, upgrade  # noqa: E402
from storage.demo_data import write_demo_csvs  # noqa: E402
from storage.importer import import_paths  # noqa: E402
from storage.models import Account  # noqa: E402
from tests.slack_wire import FakeSlackApi, post, signed_headers, slash_command_body  # noqa: E402

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = "xoxb-1234-5678-loadbenchtoken"
AS_OF = dt.date(2026, 11, 22)
NOTE = ('Answer times are mostly queueing: 20 users share 4 answer threads, and `/health` and `/atrisk` over '
        '10k accounts take seconds each (KPI speed is measured in the tables above); acks never wait for them'
        '. The "user error or question back" answers are the hostile 240-word lookups ("No account matches") '
        'and typos that match several demo names ("Which one did you mean?").')
START, END = "<!-- load-bench:start -->", "<!-- load-bench:end -->"


def build_store(pg_url: str, schema: str, accounts: int, usage_scale: float):
    admin = create_engine(pg_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    admin.dispose()
    engine = make_engine(pg_url, connect_args={"options": f"-csearch_path={schema}"})
    upgrade(engine)
    with engine.connect() as conn:
        have = conn.execute(select(func.count()).select_from(Account)).scalar_one()
    if have != accounts:
        print(f"building the store: {accounts} accounts, usage scale {usage_scale} (schema {schema})", flush=True)
        with engine.begin() as conn:
            for table in ("usage_events", "tickets", "surveys", "invoices", "revenue", "costs", "accounts"):
                conn.execute(text(f"DELETE FROM {table}"))
        out = ROOT / "bench" / "results" / f"load-{accounts}-{usage_scale}"
        paths = write_demo_csvs(out, accounts=accounts, seed=7, as_of=AS_OF, usage_scale=usage_scale)
        started = time.monotonic()
        import_paths(engine, paths)
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        print(f"store built in {time.monotonic() - started:.0f} s", flush=True)
    return engine


def command_mix(engine, n: int) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        names = conn.execute(select(Account.account_id, Account.name).order_by(Account.account_id).limit(40)).all()
    hostile = " ".join(f"word{i}" for i in range(240))
    base = [("/nps", "last-quarter"), ("/mrr", "2026-10"), ("/churn", "last-quarter"), ("/nrr", "last-quarter"),
            ("/csat", "last-30d"), ("/kpi", "arpa last-quarter"), ("/kpi", "stickiness last-30d"),
            ("/health", ""), ("/atrisk", ""), ("/kpi", "list"), ("/health", hostile)]
    mix: list[tuple[str, str]] = []
    for i in range(n):
        if i % 4 == 3:
            account_id, name = names[i % len(names)]
            kind = (i // 4) % 3
            query = account_id if kind == 0 else name if kind == 1 else name[:-2] + name[-1]  # exact, name, typo
            mix.append(("/health", query) if i % 8 == 3 else ("/mrr", f"2026-10 {query}"))
        else:
            mix.append(base[i % len(base)])
    return mix


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def run_load(engine, commands: list[tuple[str, str]], concurrency: int) -> dict:
    config = load_config(None)
    with FakeSlackApi() as api:
        env = {"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET, "CSBOT_SLACK_API_URL": api.base_url}
        pool = AnswerPool.from_env({})
        app = build_app(load_slack_settings(env), Services.create(engine, config, AS_OF, answers=pool))
        server = make_http_server(app, engine, "127.0.0.1", 0, signing_secret=SECRET)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{server.effective_port}/slack/events"
        acks: list[float] = []
        answers: list[float] = []
        busy = 0
        names: list[str] = []
        lock = threading.Lock()
        todo = iter(commands)

        def user() -> None:
            nonlocal busy
            while True:
                with lock:
                    item = next(todo, None)
                if item is None:
                    return
                command, words = item
                name = uuid.uuid4().hex[:10]
                body = slash_command_body(command, words, response_url=api.response_url(name))
                started = time.monotonic()
                status, reply = post(url, body, signed_headers(SECRET, body), timeout=30)
                acked = time.monotonic() - started
                with lock:
                    acks.append(acked)
                    names.append(name)
                if status != 200:
                    print(f"  {command} {words[:40]!r}: HTTP {status}", flush=True)
                    continue
                if BUSY_TEXT in reply:
                    with lock:
                        busy += 1
                    continue
                deadline = time.monotonic() + 300
                while time.monotonic() < deadline:
                    calls = api.wait_for_response(name, timeout=deadline - time.monotonic())
                    if any(c.json.get("text") != WORKING_TEXT for c in calls):
                        break
                    api.wait_for_response(name, count=len(calls) + 1, timeout=deadline - time.monotonic())
                with lock:
                    answers.append(time.monotonic() - started)

        started = time.monotonic()
        with ThreadPoolExecutor(concurrency) as users:
            for _ in range(concurrency):
                users.submit(user)
        wall = time.monotonic() - started
        time.sleep(2)  # anything arriving late would be a second answer
        finals: dict[str, int] = {}
        kinds: dict[str, int] = {}
        for call in api.calls("response_url"):
            if call.json.get("text") != WORKING_TEXT:
                key = call.path.rsplit("/", 1)[-1]
                finals[key] = finals.get(key, 0) + 1
                kind = answer_kind(json.dumps(call.json))
                kinds[kind] = kinds.get(kind, 0) + 1
        server.close()
        pool.shutdown()
    answered_once = sum(1 for n in names if finals.get(n, 0) == 1)
    twice = sum(1 for n in names if finals.get(n, 0) > 1)
    return {"sent": len(names), "acks": acks, "answers": answers, "busy": busy, "once": answered_once,
            "twice": twice, "wall": wall, "pool": pool, "kinds": kinds}


def answer_kind(text_: str) -> str:
    if "took too long" in text_:
        return "stopped by the statement timeout"
    if "not answering" in text_:
        return "database not answering"
    if "Something went wrong" in text_:
        return "apology (a bug)"
    if ":warning:" in text_ or "matches several accounts" in text_:
        return "user error or question back"
    return "answer"


def matching(engine) -> list[tuple[str, float, str]]:
    with engine.connect() as conn:
        name = conn.execute(select(Account.name).order_by(Account.account_id).limit(1)).scalar_one()
    cases = [("typo of a name", name[:-2] + name[-1]), ("240-word text", " ".join(f"word{i}" for i in range(240))),
             ("479-character text", "q" * 479)]
    out = []
    for label, query in cases:
        times, outcome = [], ""
        for _ in range(5):
            started = time.monotonic()
            with engine.connect() as conn:
                try:
                    outcome = find_account(conn, query).id
                except UserError as exc:
                    outcome = exc.__class__.__name__
            times.append(time.monotonic() - started)
        out.append((label, statistics.median(times) * 1000, outcome))
    return out


def report(args, result: dict, matches: list[tuple[str, float, str]]) -> str:
    acks, answers = [a * 1000 for a in result["acks"]], [a * 1000 for a in result["answers"]]
    pool = result["pool"]
    cpu = re.sub(r"\s+", " ", next((line.split(":", 1)[1] for line in Path("/proc/cpuinfo").read_text().splitlines()
                                    if line.startswith("model name")), platform.processor())).strip()
    lines = [
        START,
        "## Load: mixed slash commands at the wire (bench/load_bench.py)",
        "",
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores ({cpu}), Python "
        f"{platform.python_version()}, Postgres on loopback, under `nice -n 10` on a machine shared with other jobs. "
        f"Store: {args.accounts:,} demo accounts (usage scale {args.usage_scale}). The app as `csbot serve` runs it "
        f"(waitress, default limits, {pool.size} answer threads, queue {pool.queue_limit}); Slack is the local "
        "stand-in. "
        f"{args.concurrency} users at a time, each sending its next command when the previous one was answered; "
        f"{result['sent']} commands in {result['wall']:.1f} s.",
        "",
        "| measure | p50 | p95 | max |",
        "|---|---:|---:|---:|",
        f"| ack (POST until the HTTP answer), ms | {pct(acks, 50):.0f} | {pct(acks, 95):.0f} | {max(acks):.0f} |",
    ]
    if answers:
        lines.append(f"| answer (POST until the answer at the response_url), ms | {pct(answers, 50):.0f} | "
                     f"{pct(answers, 95):.0f} | {max(answers):.0f} |")
    lines += [
        "",
        f"Answered exactly once: {result['once']} of {result['sent']} (twice: {result['twice']}); told \"busy\": "
        f"{result['busy']} (those are answered by the ack itself and run nothing). Answers by kind: "
        + ", ".join(f"{kind} {n}" for kind, n in sorted(result["kinds"].items())) + ".",
        "",
        NOTE,
        "",
        f"Account matching alone on the same store ({args.accounts:,} accounts), median of 5, `find_account`:",
        "",
        "| query | ms | outcome |",
        "|---|---:|---|",
        *(f"| {label} | {ms:.1f} | {outcome} |" for label, ms, outcome in matches),
        "",
        "Rerun: `nice -n 10 .venv/bin/python bench/load_bench.py` (builds the store in the schema `csbot_load` "
        "the first time: about eight minutes on this machine under load).",
        END,
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--usage-scale", type=float, default=0.31)
    parser.add_argument("--commands", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--pg-schema", default="csbot_load")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    engine = build_store(args.pg_url, args.pg_schema, args.accounts, args.usage_scale)
    result = run_load(engine, command_mix(engine, args.commands), args.concurrency)
    block = report(args, result, matching(engine))
    print(block)
    text_ = args.out.read_text() if args.out.exists() else ""
    if START in text_ and END in text_:
        text_ = text_[: text_.index(START)] + block + text_[text_.index(END) + len(END):]
    else:
        text_ = text_.rstrip("\n") + "\n\n" + block + "\n"
    args.out.write_text(text_)


if __name__ == "__main__":
    main()
