"""Slow work after the ack, on a bounded pool of its own, so that acks never wait for answers.

Bolt's lazy listeners share one small thread pool with the acks: five slow answers used to block every ack.
Here the ack happens on the request thread and the answer runs on an `AnswerPool` (size and queue limit are
settings). When the pool and its queue are full the request is refused at once (`submit` answers False) and
the caller tells the user "busy, try again in a minute" instead of answering minutes late.

`deferred(pool, work)` makes a Bolt listener of any slow function: any listener (commands, buttons, events)
can use it. For slash commands a "Working on it…" note is shown when the answer takes longer than
`working_after` seconds, and the answer replaces it (`respond` consults `reply_options`).
"""

from __future__ import annotations

import contextvars
import inspect
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from slack_bolt import Ack

from storage.timeouts import statement_timeout

log = logging.getLogger("csbot.workers")

BUSY_TEXT = ("csbot is busy answering other questions right now. Please try again in a minute "
             "(nothing was lost: your question was not run).")
WORKING_TEXT = "Working on it…"
WORKING_AFTER = 1.5


@dataclass
class Progress:
    """One slash command's answer in flight: whether the 'Working on it…' note was shown, and whether the
    answer went out (the note is never shown after the answer, nor the answer twice)."""

    response_url: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    working_shown: bool = False
    answered: bool = False


_current: contextvars.ContextVar[Progress | None] = contextvars.ContextVar("csbot_progress", default=None)


def reply_options(url: str | None, message: Mapping[str, Any]) -> dict[str, Any]:
    """`message` as it should go to `url` now: replacing the 'Working on it…' note when one is showing.

    Marks the current answer as sent, so the note can no longer appear after it.
    """
    progress = _current.get()
    out = dict(message)
    if progress is None or url != progress.response_url:
        return out
    with progress.lock:
        first = not progress.answered
        progress.answered = True
        if first and progress.working_shown and "replace_original" not in out:
            out["replace_original"] = True
    return out


class AnswerPool:
    """A fixed number of answer threads and a bounded queue in front of them."""

    def __init__(self, size: int = 4, queue_limit: int = 20, *, statement_timeout: float | None = 20.0,
                 working_after: float = WORKING_AFTER, name: str = "csbot-answer"):
        self.size = size
        self.queue_limit = queue_limit
        self.statement_timeout = statement_timeout
        self.working_after = working_after
        self._executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix=name)
        self._slots = threading.BoundedSemaphore(size + queue_limit)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AnswerPool:
        from bot.settings import answer_queue, answer_workers, statement_timeout

        return cls(answer_workers(env), answer_queue(env), statement_timeout=statement_timeout(env))

    def submit(self, work: Callable[[], None]) -> bool:
        """Run `work` on the pool; False (nothing run) when every thread is busy and the queue is full."""
        if not self._slots.acquire(blocking=False):
            return False

        def run() -> None:
            try:
                work()
            except Exception:  # `work` reports its own errors; this only keeps the slot accounting right
                log.exception("answer work failed")
            finally:
                self._slots.release()

        try:
            self._executor.submit(run)
        except RuntimeError:  # shut down
            self._slots.release()
            return False
        return True

    def shutdown(self, wait: bool = False) -> None:
        self._executor.shutdown(wait=wait, cancel_futures=True)


def _working_note(progress: Progress) -> None:
    from bot.delivery import send_to_response_url

    with progress.lock:
        if progress.answered:
            return
        progress.working_shown = True
        try:
            send_to_response_url(progress.response_url, {"response_type": "ephemeral", "text": WORKING_TEXT})
        except Exception:  # the answer still follows; it just will not replace anything
            progress.working_shown = False
            log.warning("the 'Working on it…' note could not be sent")


def run_with_progress(pool: AnswerPool, body: Mapping[str, Any], work: Callable[[], None]) -> Callable[[], None]:
    """`work` wrapped: under the pool's statement timeout, and, for a slash command, showing 'Working on it…'
    when the answer is not out in time."""
    url = body.get("response_url") if body.get("command") else None

    def run() -> None:
        with statement_timeout(pool.statement_timeout):
            _run(work)

    def _run(work: Callable[[], None]) -> None:
        if not url:
            work()
            return
        progress = Progress(url)
        timer = threading.Timer(pool.working_after, _working_note, args=(progress,))
        timer.daemon = True
        token = _current.set(progress)
        timer.start()
        try:
            work()
        finally:
            timer.cancel()
            _current.reset(token)

    return run


def _tell_busy(body: Mapping[str, Any], client: Any) -> None:
    from bot.delivery import respond

    try:
        respond(client, dict(body), {"text": BUSY_TEXT, "replace_original": False})
    except Exception:
        log.warning("could not tell the user that csbot is busy")


def deferred(pool: AnswerPool, work: Callable[..., None]) -> Callable[..., None]:
    """A Bolt listener that acks on the request thread and runs `work(body=..., client=...)` on `pool`
    (also `context=...` when `work` takes a `context` parameter, e.g. for the bot's own user id).

    Slash commands that find the pool full get the busy message in the ack itself; other requests (buttons,
    events) are acked and told through their response_url, from a short-lived thread.
    """

    wants_context = "context" in inspect.signature(work).parameters

    def listener(ack: Ack, body: dict[str, Any], client: Any, context: Any = None) -> None:
        kwargs = {"body": body, "client": client, **({"context": context} if wants_context else {})}
        accepted = pool.submit(run_with_progress(pool, body, lambda: work(**kwargs)))
        if accepted:
            ack()
            return
        request_id = uuid.uuid4().hex[:12]
        log.warning("busy: refused request %s (%s); all %d answer threads busy and %d queued", request_id,
                    body.get("command") or body.get("type") or "request", pool.size, pool.queue_limit)
        if body.get("command"):
            ack(response_type="ephemeral", text=BUSY_TEXT)
            return
        ack()
        threading.Thread(target=_tell_busy, args=(body, client), daemon=True).start()

    listener.__name__ = getattr(work, "__name__", "deferred")
    return listener
