"""Scripted conversations with the bot: a fixed list of messages played in order, and one message answered under
several decodings. Notebook 06 shows both before the widget, so what a student then types meets known behaviour."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from heygen_lib.chat.chatbot import Chatbot, Reply
from heygen_lib.metrics import distinct_n
from heygen_lib.nlg.decoding import DecodingConfig


def play(bot: Chatbot, messages: Sequence[str], show: Callable[[str], None] = print) -> tuple[list[Reply], list[dict]]:
    """Send `messages` in order. Each exchange is shown: the customer's turn as the bot kept it (cleaned, cut), the
    reply, its speed and notes; a message the bot refuses is shown as the one-line refusal and the script goes on.
    Returns the replies and, per reply, its prompt and token counts, seconds and dropped turns."""
    replies, rows = [], []
    for message in messages:
        try:
            reply = bot.reply(message)
        except ValueError as err:
            show(f"refused: {err}\n")
            continue
        replies.append(reply)
        notes = "".join(f"\n  note: {note}" for note in reply.notes)
        show(f"customer: {bot.history[-2].text[:100]!r}\nagent:    {reply.text!r}\n  ({reply.stats}){notes}\n")
        rows.append({"reply": len(replies), "prompt tokens": reply.prompt_tokens, "new tokens": reply.new_tokens,
                     "seconds": reply.seconds, "tokens/s": reply.tokens_per_s, "turns dropped": reply.truncated_turns})
    return replies, rows


def decodings(bot: Chatbot, message: str, settings: Mapping[str, DecodingConfig], repeats: int = 3) -> list[dict]:
    """`message` as the opening of a fresh conversation, `repeats` times under each named decoding: the first reply,
    how much the repeats differ (distinct-2 over them: 0 when all are the same) and the mean speed. The bot keeps
    its own decoding afterwards and ends with a fresh conversation."""
    kept, rows = bot.decoding, []
    try:
        for name, decoding in settings.items():
            bot.decoding = decoding
            answers = []
            for _ in range(repeats):
                bot.reset()
                answers.append(bot.reply(message))
            rows.append({"decoding": name, "first reply": answers[0].text[:70] or "(empty)",
                         f"distinct-2 of {repeats}": distinct_n([a.text for a in answers], 2),
                         "seconds": sum(a.seconds for a in answers) / repeats,
                         "tokens/s": sum(a.tokens_per_s for a in answers) / repeats})
    finally:
        bot.decoding = kept
        bot.reset()
    return rows
