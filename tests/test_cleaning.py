import pytest

from heygen_lib.data import CleaningConfig, Dialogue, Turn, clean_dialogues
from heygen_lib.data.cleaning import CleaningReport, _step_names, clean_text


def text(raw: str, **config) -> str:
    cfg = CleaningConfig(**config)
    return clean_text(raw, cfg, CleaningReport(steps=dict.fromkeys(_step_names(cfg), 0)))


def dialogue(*texts: str, speakers: str = "ab", id: str = "d") -> Dialogue:
    turns = tuple(Turn(speakers[i % len(speakers)], t) for i, t in enumerate(texts))
    return Dialogue(id, turns, "test")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("call (555) 014-2290 or +1 555 0147 now", "call <phone> or <phone> now"),
        ("or 555-014-2290 / 555.014.2290", "or <phone> / <phone>"),
        ("order BC-4821937 placed 2024-05-03, 1 299.00 total", "order BC-4821937 placed 2024-05-03, 1 299.00 total"),
        ("see https://brightcart.example/returns. Thanks", "see <url>. Thanks"),
        ("go to www.example.com/help, or brightcart.example!", "go to <url>, or <url>!"),
        ("write to jo.ann+shop@mail.example.org please", "write to <email> please"),
    ],
)
def test_masks_urls_emails_and_phones_but_not_order_numbers_dates_or_prices(raw, expected):
    assert text(raw) == expected


def test_masking_can_be_switched_off():
    raw = "mail a@example.com or (555) 014-2290"
    assert text(raw, mask_emails=False, mask_phones=False) == raw


def test_standardises_unicode_quotes_whitespace_and_invisible_characters():
    assert text("ｆｕｌｌ  ﬁne…\t“ok” it’s") == 'full fine... "ok" it\'s'
    assert text("zero\u200bwidth\x07 bell\r\nnext") == "zerowidth bell next"
    assert text("family 👨\u200d👩\u200d👧") == "family 👨\u200d👩\u200d👧"


def test_report_counts_every_step_in_pipeline_order():
    dialogues = [
        dialogue("Hi", "  ", "Hello!", "Hello!", "mail a@example.com", "and b@example.com", "bye", speakers="abbbaaa"),
        dialogue("only one turn", id="short"),
        dialogue("same", "again", id="x"),
        dialogue("same", "again", id="y"),
    ]
    cleaned, report = clean_dialogues(dialogues)
    assert [d.id for d in cleaned] == ["d", "x"]
    assert cleaned[0].turns == (
        Turn("a", "Hi"),
        Turn("b", "Hello!"),
        Turn("a", "mail <email> and <email> bye"),
    )
    assert report.steps["empty turns removed"] == 1
    assert report.steps["repeated turns removed (same speaker, same text)"] == 1
    assert report.steps["consecutive turns of one speaker merged"] == 2
    assert report.steps["e-mail addresses masked"] == 2
    assert report.steps["short dialogues removed"] == 1
    assert report.steps["duplicate dialogues removed"] == 1
    assert report.steps["turns with whitespace collapsed"] == 1
    assert (report.dialogues_in, report.dialogues_out, report.turns_in, report.turns_out) == (4, 2, 12, 5)
    assert list(report.steps)[0] == "turns Unicode-normalised"
    assert list(report.steps)[-1] == "duplicate dialogues removed"
    assert "duplicate dialogues removed" in str(report)


def test_long_turns_are_cut_to_the_word_limit_and_counted():
    cleaned, report = clean_dialogues([dialogue("one two three four", "ok")], CleaningConfig(max_turn_words=2))
    assert cleaned[0].turns[0].text == "one two"
    assert report.steps["long turns cut"] == 1


def test_merging_off_keeps_consecutive_turns():
    cleaned, report = clean_dialogues([dialogue("a", "b", speakers="x")], CleaningConfig(merge_same_speaker=False))
    assert len(cleaned[0].turns) == 2
    assert "consecutive turns of one speaker merged" not in report.steps


def test_cleaning_keeps_ids_sources_and_meta():
    original = Dialogue("id7", (Turn("a", " hi "), Turn("b", "yo")), "src", {"intents": ["order"]})
    (cleaned,), _ = clean_dialogues([original])
    assert (cleaned.id, cleaned.source, cleaned.meta) == ("id7", "src", {"intents": ["order"]})


LONG_TOKENS = ["a", "a.", "1", "x.com.", "é", "+", "1 22", "<a"]


def test_masks_run_in_linear_time_on_a_one_megabyte_token():
    # Run in a child process with a deadline, so a quadratic pattern fails the test instead of hanging the suite.
    import subprocess
    import sys

    code = ("from heygen_lib.data.cleaning import CleaningConfig, CleaningReport, _step_names, clean_text\n"
            "config = CleaningConfig(max_turn_words=None)\n"
            f"for unit in {LONG_TOKENS!r}:\n"
            "    text = unit * (1_000_000 // len(unit))\n"
            "    report = CleaningReport(steps=dict.fromkeys(_step_names(config), 0))\n"
            "    clean_text('hi ' + text + ' there', config, report)\n")
    try:
        subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("cleaning a 1 MB token took over 60 s: a mask pattern is super-linear")


@pytest.mark.parametrize("raw", ["x a.b+c@mail.example.org y", "..a@b.co", "x@y@z.com", "a-b@c-d.e.f"])
def test_linear_email_mask_finds_what_the_unanchored_pattern_found(raw):
    import re

    from heygen_lib.data.cleaning import _EMAIL

    assert [m.span() for m in _EMAIL.finditer(raw)] == [
        m.span() for m in re.finditer(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", raw)]


def test_lone_surrogates_are_removed_like_control_characters():
    config = CleaningConfig()
    report = CleaningReport(steps=dict.fromkeys(_step_names(config), 0))
    cleaned = clean_text("where is \ud800my parcel\udfff", config, report)
    assert cleaned == "where is my parcel" and cleaned.encode("utf-8")
    assert report.steps["turns with control or invisible characters removed"] == 1
