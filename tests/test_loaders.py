import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heygen_lib.data import (
    DataFormatError,
    Turn,
    dialogues_from_rows,
    load_chatterbot,
    load_chitchat,
    load_corpus,
    load_csv,
    load_jsonl,
    load_support_set,
)


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def record(**fields) -> str:
    base = {"id": "d1", "turns": [{"speaker": "customer", "text": "hi"}, {"speaker": "agent", "text": "Hello!"}]}
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not ...})


def test_jsonl_reads_turns_meta_and_source(tmp_path):
    path = write(tmp_path, "mine.jsonl", record(meta={"intents": ["order"]}) + "\n\n" + record(id="d2") + "\n")
    first, second = load_jsonl(path)
    assert first.turns == (Turn("customer", "hi"), Turn("agent", "Hello!"))
    assert first.meta == {"intents": ["order"]}
    assert (first.source, second.id) == ("mine", "d2")


def test_jsonl_id_defaults_to_file_stem_and_line(tmp_path):
    path = write(tmp_path, "mine.jsonl", "\n" + record(id=...) + "\n")
    assert load_jsonl(path)[0].id == "mine-2"


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        ('{"id": "x", "turns": [}', None, "not valid JSON"),
        ('["a", "b"]', None, "expected a JSON object"),
        (record(turns=...), "turns", "missing"),
        (record(turns=[]), "turns", "non-empty list"),
        (record(turns=["hi"]), "turns[0]", "expected an object"),
        (record(turns=[{"speaker": "a", "text": "hi"}, {"speaker": 3, "text": "yo"}]), "turns[1].speaker", "got int"),
        (record(turns=[{"speaker": "a", "text": None}]), "turns[0].text", "got null"),
        (record(turns=[{"speaker": "a", "text": "x", "mood": "ok"}]), "turns[0].mood", "unknown field"),
        (record(meta=[1]), "meta", "expected an object"),
        (record(id=""), "id", "non-empty string"),
        (record(utterances=[]), "utterances", "unknown field"),
    ],
)
def test_jsonl_schema_errors_name_file_line_and_field(tmp_path, line, field, message):
    path = write(tmp_path, "bad.jsonl", record(id="ok") + "\n" + line + "\n")
    with pytest.raises(DataFormatError) as caught:
        load_jsonl(path)
    err = caught.value
    assert (err.path, err.line, err.field) == (str(path), 2, field)
    assert message in str(err) and str(path) in str(err) and "line 2" in str(err)


def test_jsonl_duplicate_id_names_both_lines(tmp_path):
    path = write(tmp_path, "dup.jsonl", record(id="a") + "\n" + record(id="b") + "\n" + record(id="a") + "\n")
    with pytest.raises(DataFormatError, match=r"line 3, field 'id': duplicate id 'a' \(first used on line 1\)"):
        load_jsonl(path)


def test_empty_file_is_an_error_not_an_empty_corpus(tmp_path):
    with pytest.raises(DataFormatError, match="no dialogues"):
        load_jsonl(write(tmp_path, "empty.jsonl", "\n  \n"))


def test_non_utf8_bytes_report_the_line(tmp_path):
    path = write(tmp_path, "latin1.jsonl", (record(id="a") + "\n").encode() + '{"id": "café"}'.encode("latin-1"))
    with pytest.raises(DataFormatError, match="line 2: not UTF-8") as caught:
        load_jsonl(path)
    assert caught.value.line == 2


def test_csv_groups_rows_into_dialogues_in_order(tmp_path):
    path = write(
        tmp_path,
        "chats.csv",
        'dialogue_id,speaker,text,lang\n1,user,"hi, there",en\n2,user,yo,en\n1,bot,hello,en\n',
    )
    first, second = load_csv(path)
    assert first.id == "1" and first.turns == (Turn("user", "hi, there"), Turn("bot", "hello"))
    assert second.turns == (Turn("user", "yo"),)


@pytest.mark.parametrize(
    ("content", "line", "field", "message"),
    [
        ("dialogue_id,who,text\n1,a,hi\n", 1, "speaker", "missing column"),
        ("dialogue_id,speaker,text\n1,a\n", 2, "text", "too few fields"),
        ("dialogue_id,speaker,text\n1,,hi\n", 2, "speaker", "empty value"),
        ("dialogue_id,speaker,text\n1,a,hi,extra\n", 2, None, "more fields"),
        ("dialogue_id,speaker,text\n", None, None, "only a header"),
        ("", 1, None, "empty file"),
        # A quote left open: reported on the row where it opened, not swallowing the rest of the file as text.
        ('dialogue_id,speaker,text\n1,a,hi\n1,b,"oops\n2,a,hi\n2,b,yo\n', 3, None, "quote opened in this row"),
        # Lines are counted from where a row starts, past multi-line fields and blank lines.
        ('dialogue_id,speaker,text\n1,a,"two\nlines"\n\n2,a,"' + "x" * 140_000 + '"\n', 5, None, "longer than 131,072"),
        ('dialogue_id,speaker,text\n1,a,"a\nb"\n1,b,hi\n1,,hi\n', 5, "speaker", "empty value"),
    ],
)
def test_csv_errors_name_file_line_and_field(tmp_path, content, line, field, message):
    path = write(tmp_path, "bad.csv", content)
    with pytest.raises(DataFormatError, match=message) as caught:
        load_csv(path)
    assert (caught.value.line, caught.value.field) == (line, field)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_loaders_raise_only_data_format_errors_on_arbitrary_bytes(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("fuzz")
    for loader, name in ((load_jsonl, "x.jsonl"), (load_csv, "x.csv")):
        path = write(folder, name, data)
        try:
            dialogues = loader(path)
        except DataFormatError as err:
            assert err.path == str(path)
        else:
            assert dialogues and all(d.turns for d in dialogues)


# Ways one line of a JSONL file can be wrong, each with the field the error must name (None: the whole line).
BROKEN_LINES = [
    ('{"id": "x", "turns": [', None),  # not valid JSON
    ('["a list", "not an object"]', None),
    ('{"id": "x"}', "turns"),
    ('{"id": "x", "turns": []}', "turns"),
    ('{"id": "x", "turns": [{"speaker": "", "text": "hi"}]}', "turns[0].speaker"),
    ('{"id": "x", "turns": [{"speaker": "a", "text": 3}]}', "turns[0].text"),
    ('{"id": "x", "turns": [{"speaker": "a", "text": "hi", "mood": "ok"}]}', "turns[0].mood"),
    ('{"id": "x", "turns": [{"speaker": "a", "text": "hi"}], "extra": 1}', "extra"),
    ('{"id": "x", "turns": [{"speaker": "a", "text": "hi"}], "meta": [1]}', "meta"),
]
valid_turn = st.fixed_dictionaries({"speaker": st.sampled_from(["customer", "agent", "bot"]),
                                    "text": st.text(max_size=20)})
valid_record = st.fixed_dictionaries({"turns": st.lists(valid_turn, min_size=1, max_size=3),
                                      "meta": st.dictionaries(st.sampled_from(["intents", "lang"]), st.integers())})
jsonl_line = st.one_of(valid_record.map(lambda r: ("valid", r)), st.just(("blank", None)),
                       st.sampled_from(BROKEN_LINES).map(lambda b: ("broken", b)))


@settings(max_examples=200, deadline=None)
@given(st.lists(jsonl_line, min_size=1, max_size=6))
def test_jsonl_loads_every_valid_record_or_names_the_first_bad_line_and_field(tmp_path_factory, lines):
    texts, expected = [], []
    for number, (kind, content) in enumerate(lines, start=1):
        if kind == "valid":
            texts.append(json.dumps({"id": f"d{number}", **content}))
            expected.append((f"d{number}", tuple(Turn(t["speaker"], t["text"]) for t in content["turns"]),
                             content["meta"]))
        else:
            texts.append("" if kind == "blank" else content[0])
    path = write(tmp_path_factory.mktemp("fuzz"), "x.jsonl", "\n".join(texts))
    first_bad = next((n for n, (kind, _) in enumerate(lines, start=1) if kind == "broken"), None)
    if first_bad is not None:
        with pytest.raises(DataFormatError) as caught:
            load_jsonl(path)
        assert (caught.value.path, caught.value.line, caught.value.field) == (str(path), first_bad,
                                                                              lines[first_bad - 1][1][1])
    elif not expected:
        with pytest.raises(DataFormatError, match="no dialogues"):
            load_jsonl(path)
    else:
        assert [(d.id, d.turns, d.meta) for d in load_jsonl(path)] == expected


def test_support_set_loads_with_intents_from_the_documented_vocabulary():
    dialogues = load_support_set()
    assert len(dialogues) == 300  # data/support_dialogues.jsonl: one dialogue per line
    intents = {"order", "refund", "delivery", "account", "technical", "billing", "product_question", "complaint"}
    assert all(set(d.meta["intents"]) <= intents and d.meta["intents"] for d in dialogues)
    assert {s for d in dialogues for s in d.speakers} == {"customer", "agent"}
    assert len({d.id for d in dialogues}) == len(dialogues)


def test_support_set_missing_file_says_how_to_point_at_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HEYGEN_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="HEYGEN_DATA_DIR"):
        load_support_set()


def test_chitchat_maps_senders_to_two_speakers_and_keeps_the_prompt():
    dialogues = load_chitchat(limit=50)
    assert len(dialogues) == 50
    assert all(set(d.speakers) <= {"speaker_1", "speaker_2"} for d in dialogues)
    assert all(d.turns[0].speaker == "speaker_1" for d in dialogues)
    assert all(set(d.meta) <= {"prompt", "ratings", "start"} for d in dialogues)
    assert any(isinstance(d.meta.get("prompt"), str) for d in dialogues)
    assert len(load_chitchat()) == 7168  # chitchat-dataset's whole corpus


def test_chatterbot_keeps_yaml_scalars_as_written_and_warns_about_malformed_entries(tmp_path, monkeypatch):
    import chatterbot_corpus

    folder = tmp_path / "data" / "english"
    folder.mkdir(parents=True)
    (folder / "quiz.yml").write_text(
        "categories:\n- quiz\nconversations:\n- - Is it on?\n  - yes\n- Broken entry - '22'\n- - Year?\n  - '1984'\n"
    )
    monkeypatch.setattr(chatterbot_corpus, "__file__", str(tmp_path / "__init__.py"))
    with pytest.warns(UserWarning, match=r"quiz\.yml: skipped 1 conversation.*line 6"):
        dialogues = load_chatterbot()
    assert [d.id for d in dialogues] == ["quiz-1", "quiz-3"]
    assert dialogues[0].turns == (Turn("speaker_1", "Is it on?"), Turn("speaker_2", "yes"))
    assert dialogues[1].meta == {"categories": ["quiz"]}


def test_chatterbot_package_loads_its_english_corpus():
    with pytest.warns(UserWarning, match=r"trivia\.yml: skipped 1 conversation\(s\) .* \(line 35\)"):
        dialogues = load_chatterbot()  # the one malformed entry is skipped, and said with its file and line
    assert len(dialogues) == 2025  # chatterbot-corpus's English files, malformed entries skipped
    assert {d.source for d in dialogues} == {"chatterbot"}


def test_chatterbot_unknown_language_lists_the_available_ones():
    with pytest.raises(ValueError, match="available: .*english"):
        load_chatterbot("klingon")


def test_rows_with_utterance_lists_become_alternating_speakers():
    (dialogue,) = dialogues_from_rows([{"dialog": ["a", "b", "c"]}], "dialog", source="hf:daily")
    assert [t.speaker for t in dialogue.turns] == ["speaker_1", "speaker_2", "speaker_1"]
    assert dialogue.source == "hf:daily"


def test_load_corpus_rejects_unknown_names():
    with pytest.raises(ValueError, match="support, chitchat, chatterbot"):
        load_corpus("reddit")


HUGE_INTEGER = record().replace('"d1"', '"d2"')[:-1] + ', "meta": {"n": 1' + "0" * 5000 + "}}"


@pytest.mark.parametrize(
    ("content", "field", "message"),
    [
        (record(turns=[{"speaker": "customer", "text": "hi \ud800"}]), "turns[0].text", r"contains \\ud800"),
        (record(turns=[{"speaker": "\udfff", "text": "hi"}]), "turns[0].speaker", r"contains \\udfff"),
        (record(meta={"note": "\ud83d"}), "meta", r"contains \\ud83d"),
        (HUGE_INTEGER, None, "not valid JSON .*integer"),
    ],
)
def test_json_lines_with_lone_surrogates_or_huge_integers_name_line_and_field(tmp_path, content, field, message):
    path = write(tmp_path, "bad.jsonl", record().replace('"d1"', '"d0"') + "\n" + content + "\n")
    assert "\\ud" in content or "0" * 5000 in content  # the escape, as a file would hold it
    with pytest.raises(DataFormatError, match=message) as caught:
        load_jsonl(path)
    assert (caught.value.line, caught.value.field) == (2, field)


def test_a_duplicate_csv_column_is_refused_naming_it(tmp_path):
    path = tmp_path / "chats.csv"
    path.write_text("dialogue_id,speaker,text,text\nd1,u,hi,hello\nd1,b,yo,hey\n")
    with pytest.raises(DataFormatError) as caught:
        load_csv(path)
    assert (caught.value.line, caught.value.field) == (1, "text")
    assert str(caught.value) == (f"{path}, line 1, field 'text': duplicate column (columns 3 and 4; which one "
                                 "holds the text?)")


def test_a_duplicate_json_key_or_a_non_finite_number_in_a_dialogue_is_refused(tmp_path):
    path = tmp_path / "mine.jsonl"
    path.write_text('{"id": "a", "turns": [{"speaker": "u", "text": "hi"}], "meta": {"rating": NaN}}\n')
    with pytest.raises(DataFormatError, match=r"line 1, field 'meta.rating': NaN is not a number JSON allows"):
        load_jsonl(path)
    path.write_text('{"id": "a", "id": "b", "turns": [{"speaker": "u", "text": "hi"}]}\n')
    with pytest.raises(DataFormatError, match=r"line 1, field 'id': duplicate key"):
        load_jsonl(path)
