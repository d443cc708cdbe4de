"""A review widget (ipywidgets 7 and 8): one generated pair at a time, with its scores; Accept, Reject, Save edit or
Skip. Every click is written to the `ReviewStore` before the next pair shows, so closing the notebook, restarting
the kernel or reopening the widget later resumes with the first pair that has no decision. A decision that cannot be
written (a full disk, an unwritable folder) is said in the status line, and the pair stays on screen.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import ipywidgets as w

from heygen_lib.data.pairs import Pair
from heygen_lib.dialogue_gan.review import ReviewStore, key_of
from heygen_lib.widgets import errors_said_in, status_html


class ReviewWidget(w.VBox):
    """Shows the pending candidates one at a time. `current` is the candidate on screen (None when all are done)."""

    def __init__(self, store: ReviewStore, candidates: Sequence[Pair], reviewer: str = "reviewer"):
        self.store, self.candidates, self.reviewer = store, list(candidates), reviewer
        self.progress = w.HTML()
        self.context = w.HTML()
        self.response = w.Textarea(layout=w.Layout(width="95%", height="90px"))
        self.scores = w.HTML()
        self.status = w.HTML()
        self.accept = w.Button(description="Accept", button_style="success")
        self.reject = w.Button(description="Reject", button_style="danger")
        self.save_edit = w.Button(description="Save edit", button_style="warning")
        self.skip = w.Button(description="Skip")
        self.accept.on_click(errors_said_in(self.status, lambda _: self._decide("accept")))
        self.reject.on_click(errors_said_in(self.status, lambda _: self._decide("reject")))
        self.save_edit.on_click(errors_said_in(self.status, lambda _: self._decide("edit")))
        self.skip.on_click(errors_said_in(self.status, lambda _: self._show(self._next_pending(after=self._position))))
        buttons = w.HBox([self.accept, self.reject, self.save_edit, self.skip])
        super().__init__([w.HTML("<b>Review generated pairs</b>"), self.progress, self.context,
                          w.HTML("<i>response (edit it, then Save edit):</i>"), self.response, self.scores, buttons,
                          self.status])
        self._position: int | None = None
        self._show(self._next_pending(after=None))

    @property
    def current(self) -> Pair | None:
        return None if self._position is None else self.candidates[self._position]

    def _next_pending(self, after: int | None) -> int | None:
        """The first undecided candidate after position `after`, wrapping around (`after` itself comes last)."""
        decided = self.store.decisions()
        start = -1 if after is None else after
        n = len(self.candidates)
        for step in range(1, n + 1):
            i = (start + step) % n
            if key_of(self.candidates[i]) not in decided:
                return i
        return None

    def _show(self, position: int | None) -> None:
        self._position = position
        self.progress.value = f"<b>{html.escape(self.store.summary(self.candidates))}</b>"
        done = position is None
        for button in (self.accept, self.reject, self.save_edit, self.skip):
            button.disabled = done
        if done:
            self.context.value = "<i>Every candidate has a decision.</i>"
            self.response.value = self.scores.value = ""
            return
        pair = self.candidates[position]
        turns = "".join(f"<div><b>{html.escape(t.speaker)}</b>: {html.escape(t.text)}</div>" for t in pair.context)
        self.context.value = f"<div>candidate {position + 1} of {len(self.candidates)}</div>{turns}"
        self.response.value = pair.response.text
        scores = pair.meta.get("provenance", {}).get("scores", {})
        self.scores.value = "scores: " + ", ".join(f"{html.escape(k)} {v:.3f}" for k, v in scores.items())

    def _decide(self, decision: str) -> None:
        pair = self.current
        if pair is None:
            return
        text = self.response.value.strip() if decision == "edit" else None
        if decision == "edit" and text == pair.response.text.strip():
            decision, text = "accept", None
            note = "text unchanged: recorded as accept"
        elif decision == "edit" and not text:
            self.status.value = status_html("An edit needs text; use Reject to drop the pair.", error=True)
            return
        else:
            note = f"recorded: {decision}"
        try:
            self.store.record(key_of(pair), decision, text, reviewer=self.reviewer)
        except (OSError, ValueError) as err:  # a full disk, an unwritable folder, text that cannot be stored
            self.status.value = status_html(f"not saved: {err}", error=True)
            return
        self.status.value = status_html(note)
        self._show(self._next_pending(after=self._position))
