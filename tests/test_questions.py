"""Questions in plain words: the deterministic mapping (pure), and mentions and DMs at the wire (a thread for a
mention, the DM for a DM, each event answered once, the bot's own messages ignored). SQLite and Postgres."""

from __future__ import annotations

import json
import time

import pytest

from kpi_core.plain_words import clean, understand
from tests.kpi_helpers import account, load, revenue, survey
from tests.slack_stack import _answer_text, running_stack

SEGMENTS = ["enterprise", "SMB"]


@pytest.mark.parametrize("said,command", [
    ("how is acme doing?", "/health acme"),
    ("How's Acme Corp doing", "/health Acme Corp"),
    ("what is the health of acme?", "/health acme"),
    ("how are my accounts doing?", "/health mine"),
    ("what's our nps last quarter?", "/nps last quarter"),
    ("What’s our NPS last quarter?", "/nps last quarter"),
    ("who is at risk?", "/atrisk"),
    ("who's at risk in enterprise?", "/atrisk segment:enterprise"),
    ("mrr by segment this year", "/mrr this year by segment"),
    ("<@U0BOT0001> nps last quarter for enterprise", "/nps last quarter segment:enterprise"),
    ("nps last quarter for smb", "/nps last quarter segment:smb"),
    ("nps for Acme Corp last quarter", '/nps last quarter "Acme Corp"'),
    ("show me net promoter score for mine", "/nps mine"),
    ("clv last year", "/kpi clv last year"),
    ("what was nps in Q3 2026?", "/nps Q3 2026"),
    ("churn in enterprise in last quarter", "/churn last quarter segment:enterprise"),
    ("churn", "/churn"),
    ("nps acme", "/nps acme"),  # the command language without the slash
    ("/kpi list", "/kpi list"),
    ("health acme 2026-10-31", "/health acme 2026-10-31"),
])
def test_common_question_forms_map_to_one_command(said, command):
    assert understand(said, SEGMENTS) == understand(said, SEGMENTS)  # deterministic
    assert understand(said, SEGMENTS).command == command


@pytest.mark.parametrize("said", ["tell me a joke", "what is the weather", "/dance", "how is the weather today",
                                  "nps banana split smoothie?" ])
def test_a_question_it_cannot_map_gets_commands_never_a_guess(said):
    got = understand(said, SEGMENTS)
    if said.startswith("nps"):  # a KPI with words it cannot place: those words go to the account lookup
        assert got.command == "/nps banana split smoothie"
        return
    assert got.command is None and 1 <= len(got.suggestions) <= 3
    assert all(s.startswith("/") for s in got.suggestions)


def test_suggestions_start_with_kpis_named_like_the_words():
    assert understand("what about nsp and chrun", SEGMENTS).suggestions[:2] == ("/nps", "/churn")


def test_clean_drops_mentions_quotes_and_punctuation():
    assert clean("<@U0BOT0001|csbot>  how is acme doing?!") == "how is acme doing"


# ------------------------------------------------------------------------------------------------ the wire


@pytest.fixture
def stack(store):
    load(store,
         accounts=[account("acme", name="Acme Corp", segment="enterprise", owner_slack_id="U0CSM0001",
                           customer="2025-02-01"),
                   account("s1", name="Small One", segment="smb", customer="2025-03-01")],
         surveys=[survey("r1", "acme", "nps", 10, "2026-08-01T10:00:00"),
                  survey("r2", "s1", "nps", 3, "2026-08-02T10:00:00")],
         revenue=[revenue("acme", "2026-11", 1000)])
    with running_stack(store) as stack:
        yield stack


def _mention(text: str, ts: str = "1764000000.000100", **extra) -> dict:
    return {"type": "app_mention", "user": "U0TEST001", "text": f"<@U0BOT0001> {text}", "ts": ts,
            "channel": "C0TEST001", "event_ts": ts, **extra}


def _dm(text: str, ts: str = "1764000001.000100", **extra) -> dict:
    return {"type": "message", "channel_type": "im", "user": "U0TEST001", "text": text, "ts": ts,
            "channel": "D0TEST001", "event_ts": ts, **extra}


def test_a_mention_is_answered_in_a_thread(stack):
    status, took = stack.event(_mention("nps last quarter for enterprise"))
    assert status == 200 and took < 3
    (post,) = stack.api.wait_for("chat.postMessage", timeout=15)
    assert post.params["channel"] == "C0TEST001" and post.params["thread_ts"] == "1764000000.000100"
    text = json.dumps(post.params["blocks"])
    # Q3 2026, segment enterprise: acme's one promoter -> NPS 100
    assert "Net Promoter Score" in text and "2026-07-01" in text and "enterprise" in text and "100" in text
    assert "share_answer" not in text  # already in the channel's thread


def test_a_mention_inside_a_thread_answers_in_that_thread(stack):
    stack.event(_mention("who is at risk?", ts="1764000005.000100", thread_ts="1764000000.000001"))
    (post,) = stack.api.wait_for("chat.postMessage", timeout=15)
    assert post.params["thread_ts"] == "1764000000.000001"


def test_a_dm_is_answered_in_the_dm_and_a_retry_is_not_answered_again(stack):
    event = _dm("how is acme doing?")
    assert stack.event(event, event_id="Ev0DM00001")[0] == 200
    (post,) = stack.api.wait_for("chat.postMessage", timeout=15)
    assert post.params["channel"] == "D0TEST001" and "thread_ts" not in post.params
    assert "Health of Acme Corp" in json.dumps(post.params["blocks"])
    assert stack.event(event, event_id="Ev0DM00001", retry=1)[0] == 200  # Slack's retry of the same event
    assert stack.event(event, event_id="Ev0DM00001", retry=2)[0] == 200
    time.sleep(1.0)  # give a wrongly accepted retry time to answer (nothing more may arrive)
    assert len(stack.api.calls("chat.postMessage")) == 1


def test_the_bots_own_messages_and_edits_are_ignored(stack):
    stack.event(_dm("how is acme doing?", bot_id="B0BOT0001", user="U0BOT0001"))
    stack.event(_dm("how is acme doing?", subtype="message_changed"))
    stack.event(_dm("how is acme doing?", channel_type="channel", channel="C0TEST001"))  # not a DM
    stack.event(_dm("nps", ts="1764000009.000100"))  # a real one, to know the others had their chance
    (post,) = stack.api.wait_for("chat.postMessage", timeout=15)
    assert "Net Promoter Score" in json.dumps(post.params["blocks"])
    time.sleep(0.5)
    assert len(stack.api.calls("chat.postMessage")) == 1


def test_an_unmappable_question_offers_commands_and_a_click_answers(stack):
    stack.event(_dm("tell me a joke"))
    (post,) = stack.api.wait_for("chat.postMessage", timeout=15)
    assert "will not guess" in json.dumps(post.params["blocks"])
    buttons = [e for b in post.params["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [b["text"]["text"] for b in buttons] == ["/kpi list", "/atrisk", "/health"]
    _, name = stack.click(buttons[0]["action_id"], buttons[0]["value"], channel_id="D0TEST001")
    assert "KPI catalog" in _answer_text(stack.answer(name))


def test_personal_warnings_can_be_switched_in_a_dm(stack):
    from storage import personal

    stack.event(_dm("atrisk subscribe me"))
    (post,) = stack.api.wait_for("chat.postMessage", timeout=15)
    assert "accounts you own as direct messages" in post.params["text"]
    sub = personal.personal_subscription(stack.engine, "T0TEST001", "U0TEST001")
    assert sub.active and sub.owner_id == "U0TEST001" and sub.channel_id == "D0TEST001"
    stack.event(_dm("/atrisk unsubscribe me", ts="1764000002.000100"))
    posts = stack.api.wait_for("chat.postMessage", count=2, timeout=15)
    assert "Stopped your personal churn-risk warnings" in posts[1].params["text"]
