"""The chat widget of notebook 06 (ipywidgets 7 and 8): transcript, message box, decoding controls, feedback.

It only gathers values and calls the library: `Chatbot.stream` to answer, `FeedbackStore.rate` / `correct` to keep
feedback. Every handler is a plain method (`send_message`, `reset`, `rate`, `save_correction`), so tests and scripts can
drive it without a browser.
"""

from __future__ import annotations

import html
import warnings
from dataclasses import fields

import ipywidgets as w

from heygen_lib.chat.chatbot import Chatbot
from heygen_lib.nlg.decoding import STRATEGIES, DecodingConfig
from heygen_lib.chat.feedback import FeedbackStore
from heygen_lib.paths import shown_path
from heygen_lib.widgets import WIDE_LABELS, errors_said_in, status_html

TRANSCRIPT_STYLE = ("height: 320px; overflow-y: auto; border: 1px solid #ccc; border-radius: 4px; padding: 6px; "
                    # column-reverse keeps the view scrolled to the newest message without JavaScript
                    "display: flex; flex-direction: column-reverse; font-family: sans-serif; font-size: 13px")
BUBBLE = {"user": "background: #e8f0fe; margin: 4px 60px 4px 0", "bot": "background: #f1f3f4; margin: 4px 0 4px 60px"}
MARKS = {"good": "👍", "bad": "👎", "corrected": "✎ corrected"}


class ChatWidget(w.VBox):
    """Talk to `chatbot`; rate and correct its replies into `store` (no feedback row when `store` is None)."""

    def __init__(self, chatbot: Chatbot, store: FeedbackStore | None = None, model_name: str = ""):
        self.chatbot, self.store, self.model_name = chatbot, store, model_name
        self.marks: dict[tuple[str, int], list[str]] = {}  # (conversation, bot turn) -> feedback given
        d = chatbot.decoding
        self.transcript = w.HTML()
        self.message = w.Text(placeholder="Type a message; Enter or Send", layout=w.Layout(width="60%"))
        self.send_button = w.Button(description="Send", button_style="primary", icon="paper-plane")
        self.reset_button = w.Button(description="Reset", icon="refresh")
        self.status = w.HTML()
        self.strategy = w.Dropdown(options=list(STRATEGIES), value=d.strategy, description="strategy",
                                   style=WIDE_LABELS)
        self.temperature = w.FloatSlider(value=d.temperature, min=0.1, max=2.0, step=0.05, description="temperature",
                                         style=WIDE_LABELS)
        self.top_k = w.IntSlider(value=d.top_k, min=0, max=200, description="top-k", style=WIDE_LABELS)
        self.top_p = w.FloatSlider(value=d.top_p, min=0.05, max=1.0, step=0.05, description="top-p", style=WIDE_LABELS)
        self.repetition_penalty = w.FloatSlider(value=d.repetition_penalty, min=1.0, max=2.0, step=0.05,
                                                description="repetition penalty", style=WIDE_LABELS)
        self.num_beams = w.IntSlider(value=max(d.num_beams, 2), min=2, max=8, description="beams", style=WIDE_LABELS)
        # At most half the window, so the conversation keeps room in the prompt.
        self.max_new_tokens = w.IntSlider(value=d.max_new_tokens, min=1, max=min(256, chatbot.max_context_tokens // 2),
                                          description="max new tokens", style=WIDE_LABELS)
        self.send_button.on_click(errors_said_in(self.status, self.send_message))
        self.reset_button.on_click(errors_said_in(self.status, self.reset))
        with warnings.catch_warnings():  # ipywidgets 8 deprecates on_submit, but its front end still sends Enter
            warnings.simplefilter("ignore", DeprecationWarning)
            self.message.on_submit(errors_said_in(self.status, self.send_message))
        controls = w.VBox([w.HTML("<b>Decoding</b>"), self.strategy, self.temperature, self.top_k, self.top_p,
                           self.repetition_penalty, self.num_beams, self.max_new_tokens])
        rows = [w.HTML("<b>Chat with the fine-tuned model</b>"), self.transcript,
                w.HBox([self.message, self.send_button, self.reset_button]), self.status]
        if store is not None:
            rows.append(self._feedback_row())
        super().__init__(rows + [controls])
        self.render()

    def _feedback_row(self) -> w.VBox:
        self.turn = w.Dropdown(options=[], description="reply", style=WIDE_LABELS)
        self.good_button = w.Button(description="👍 good")
        self.bad_button = w.Button(description="👎 bad")
        self.correction = w.Textarea(placeholder="A better reply the bot should have given",
                                     layout=w.Layout(width="60%"))
        self.correction_button = w.Button(description="Save correction", icon="save")
        self.good_button.on_click(errors_said_in(self.status, lambda _: self.rate("good")))
        self.bad_button.on_click(errors_said_in(self.status, lambda _: self.rate("bad")))
        self.correction_button.on_click(errors_said_in(self.status, self.save_correction))
        saved_to = html.escape(shown_path(self.store.path))  # never this machine's absolute path
        return w.VBox([w.HTML(f"<b>Feedback</b> (saved to <code>{saved_to}</code>)"),
                       w.HBox([self.turn, self.good_button, self.bad_button]),
                       w.HBox([self.correction, self.correction_button])])

    def decoding(self) -> DecodingConfig:
        """The decoding settings the controls show (ValueError if they make no sense)."""
        return DecodingConfig(**{f.name: getattr(self, f.name).value for f in fields(DecodingConfig)})

    def send_message(self, _=None) -> None:
        """Send the message box's text with the controls' settings; show the reply as it streams."""
        self.send_button.disabled = True
        try:
            self.chatbot.decoding = self.decoding()
            text = ""
            for piece in self.chatbot.stream(self.message.value):
                text += piece
                self.render(pending=(self.message.value, text))
        except Exception as err:  # bad input or settings, or generation failed: the history is unchanged
            problem = str(err) if isinstance(err, ValueError) else (
                f"generation failed, nothing was added to the conversation: {type(err).__name__}: {err}")
            self._say(problem, error=True)
            self.render()
            return
        finally:
            self.send_button.disabled = False
        self.message.value = ""
        reply = self.chatbot.last_reply
        self._say("; ".join([reply.stats, *reply.notes]))
        self.render()

    def reset(self, _=None) -> None:
        """Start a new conversation (feedback already saved stays saved)."""
        self.chatbot.reset()
        self._say("new conversation")
        self.render()

    def rate(self, rating: str) -> None:
        """Rate the reply chosen in the feedback row."""
        if self._no_turn():
            return
        try:
            self.store.rate(self.chatbot, rating, turn=self.turn.value, model=self.model_name)
        except (OSError, ValueError) as err:  # a full disk, an unwritable store, text that cannot be stored
            self._say(f"not saved: {err}", error=True)
            return
        self._mark(rating)

    def save_correction(self, _=None) -> None:
        """Save the correction box's text as the better reply for the chosen turn."""
        if self._no_turn():
            return
        try:
            self.store.correct(self.chatbot, self.correction.value, turn=self.turn.value, model=self.model_name)
        except ValueError as err:
            self._say(str(err), error=True)
            return
        except OSError as err:
            self._say(f"not saved: {err}", error=True)
            return
        self.correction.value = ""
        self._mark("corrected")

    def render(self, pending: tuple[str, str] | None = None) -> None:
        """Redraw the transcript (with a message still being answered, if any) and the feedback choices."""
        history, parts = self.chatbot.history, []
        for i, turn in enumerate(history):
            if i % 2 == 0:
                parts.append(_bubble("user", turn.speaker, turn.text))
            else:
                reply = self.chatbot.reply_for(i)
                marks = " ".join(MARKS[m] for m in self.marks.get((self.chatbot.conversation_id, i), []))
                parts.append(_bubble("bot", turn.speaker, turn.text, f"#{i} · {reply.stats} {marks}".strip()))
        if pending is not None:
            parts += [_bubble("user", self.chatbot.user, pending[0]),
                      _bubble("bot", self.chatbot.bot, pending[1] + " …")]
        if not parts:
            parts.append("<i style='color: #888'>Say hello to start.</i>")
        self.transcript.value = f"<div style='{TRANSCRIPT_STYLE}'><div>{''.join(parts)}</div></div>"
        if self.store is not None:
            options = [(f"#{i}: {_short(history[i].text)}", i) for i in range(len(history) - 1, 0, -2)]
            if [value for _, value in options] != [value for _, value in self.turn.options]:
                self.turn.options = options
                self.turn.value = options[0][1] if options else None

    def _no_turn(self) -> bool:
        if self.turn.value is None:
            self._say("no reply to give feedback on yet", error=True)
        return self.turn.value is None

    def _mark(self, what: str) -> None:
        self.marks.setdefault((self.chatbot.conversation_id, self.turn.value), []).append(what)
        self._say(f"saved: reply #{self.turn.value} {MARKS[what]}")
        self.render()

    def _say(self, text: str, error: bool = False) -> None:
        self.status.value = status_html(text, error)


def _bubble(kind: str, speaker: str, text: str, footer: str = "") -> str:
    body = html.escape(text).replace("\n", "<br>") or "<i>(no text)</i>"
    foot = f"<div style='color: #777; font-size: 11px'>{html.escape(footer)}</div>" if footer else ""
    return (f"<div style='{BUBBLE[kind]}; padding: 4px 8px; border-radius: 8px'>"
            f"<b>{html.escape(speaker)}</b>: {body}{foot}</div>")


def _short(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
