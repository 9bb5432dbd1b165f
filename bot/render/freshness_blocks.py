"""Freshness in Slack: "data as of ..." under every answer, and the stale / failed-source warnings."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject, SectionBlock

from bot.render.blocks import CONTEXT_TEXT_MAX, SECTION_TEXT_MAX, clip, escape
from kpi_core.freshness import Freshness

__all__ = ["answer_freshness_blocks", "digest_freshness_blocks", "digest_freshness_text"]


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=clip(text, CONTEXT_TEXT_MAX))])


def _stale_line(fresh: Freshness, tz: ZoneInfo) -> str:
    return ":warning: *Stale data:* " + "; ".join(escape(w) for w in fresh.warnings(tz) if w.startswith("stale"))


def _failed_lines(fresh: Freshness, tz: ZoneInfo) -> list[str]:
    return [f":x: *{escape(w)}*" for w in fresh.warnings(tz) if not w.startswith("stale")]


def answer_freshness_blocks(fresh: Freshness, tz: ZoneInfo) -> list[Block]:
    """Under an answer: the words, then a visible warning when stale or a source failed."""
    blocks: list[Block] = []
    words = fresh.words(tz)
    if words:
        blocks.append(_context(escape(words[0].upper() + words[1:])))
    if fresh.stale_tables:
        blocks.append(_context(_stale_line(fresh, tz)))
    for line in _failed_lines(fresh, tz):
        blocks.append(_context(line))
    return blocks


def digest_freshness_blocks(fresh: Freshness, tz: ZoneInfo) -> list[Block]:
    """At the top of a digest: failed sources with their error (the numbers were not refreshed), the stale
    warning, and the words."""
    blocks: list[Block] = []
    failed = _failed_lines(fresh, tz)
    if failed:
        text = "\n".join(failed) + "\nThe numbers below are from the last successful load, not refreshed."
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(text, SECTION_TEXT_MAX))))
    if fresh.stale_tables:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(_stale_line(fresh, tz), SECTION_TEXT_MAX))))
    words = fresh.words(tz)
    if words:
        blocks.append(_context(escape(words[0].upper() + words[1:])))
    return blocks


def digest_freshness_text(fresh: Freshness) -> str:
    """A prefix for the digest's notification text when its data is not fresh."""
    if fresh.failures:
        return "Data sync failed; numbers not refreshed. "
    if fresh.stale_tables:
        return "Stale data. "
    return ""
