import json

import pytest

from heygen_lib.data import DataFormatError, Pair, Turn, load_pairs, prepare_pairs, save_pairs


def pair(**meta) -> Pair:
    return Pair((Turn("customer", "where is my parcel?"),), Turn("agent", "Let me check 🙂"), "del-001", "support", 1, meta)


def test_pairs_round_trip_with_provenance(tmp_path):
    pairs = [pair(provenance={"augmenter": "eda", "params": {"rate": 0.1}, "seed": 0}), pair()]
    path = save_pairs(pairs, tmp_path / "out" / "aug.jsonl")
    loaded = load_pairs(path)
    assert loaded == pairs
    assert loaded[0].meta == pairs[0].meta
    assert not (tmp_path / "out" / "aug.jsonl.tmp").exists()


def test_optional_fields_get_defaults(tmp_path):
    path = tmp_path / "mine.jsonl"
    path.write_text(json.dumps({"context": [{"speaker": "u", "text": "hi"}], "response": {"speaker": "b", "text": "yo"}}) + "\n")
    (loaded,) = load_pairs(path)
    assert (loaded.dialogue_id, loaded.source, loaded.turn_index, loaded.meta) == ("mine-1", "mine", 1, {})


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"context": [], "response": {"speaker": "b", "text": "x"}}, "context"),
        ({"context": [{"speaker": "u", "text": "hi"}]}, "response"),
        ({"context": [{"speaker": "u"}], "response": {"speaker": "b", "text": "x"}}, "context[0].text"),
        ({"context": [{"speaker": "u", "text": "hi"}], "response": {"speaker": "", "text": "x"}}, "response.speaker"),
        ({"context": [{"speaker": "u", "text": "hi"}], "response": {"speaker": "b", "text": "x"}, "turn_index": -1}, "turn_index"),
        ({"context": [{"speaker": "u", "text": "hi"}], "response": {"speaker": "b", "text": "x"}, "score": 1}, "score"),
    ],
)
def test_bad_pair_records_name_line_and_field(tmp_path, record, field):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"context": [{"speaker": "u", "text": "ok"}], "response": {"speaker": "b", "text": "ok"}}) + "\n" + json.dumps(record) + "\n")
    with pytest.raises(DataFormatError) as caught:
        load_pairs(path)
    assert (caught.value.line, caught.value.field) == (2, field)


def test_prepare_pairs_gives_agent_responses_from_disjoint_conversations():
    prepared = prepare_pairs("support", context_turns=2, seed=0)
    assert {p.response.speaker for p in prepared.train + prepared.dev + prepared.test} == {"agent"}
    ids = [{p.dialogue_id for p in part} for part in (prepared.train, prepared.dev, prepared.test)]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    assert max(len(p.context) for p in prepared.train) == 2
    assert prepared.cleaning.dialogues_out == len(prepared.splits.train + prepared.splits.dev + prepared.splits.test)


def test_a_full_disk_is_an_error_naming_the_file_and_leaves_no_temporary_file(tmp_path):
    import resource

    path = save_pairs([pair()], tmp_path / "aug.jsonl")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))  # writes past 4 KB fail, as on a full disk
    try:
        with pytest.raises(OSError) as caught:
            save_pairs([pair()] * 100, path)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert str(caught.value).startswith(f"could not save the pairs to {path}: File too large")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["aug.jsonl"] and load_pairs(path) == [pair()]


@pytest.mark.parametrize("bad, field, says", [
    (pair(score=float("nan")), "meta.score", "nan is not a JSON number"),
    (pair(provenance={"ratio": float("inf")}), "meta.provenance.ratio", "inf is not a JSON number"),
    (Pair((Turn("customer", "hi \ud800"),), Turn("agent", "ok"), "d", "s", 1), "context[0].text",
     "holds \\ud800, half of a UTF-16 pair"),
])
def test_what_json_cannot_hold_is_refused_before_writing_naming_the_pair_and_field(tmp_path, bad, field, says):
    with pytest.raises(ValueError) as caught:
        save_pairs([pair(), bad], tmp_path / "aug.jsonl")
    assert str(caught.value).startswith(f"cannot save the pairs to {tmp_path / 'aug.jsonl'}: pair 2, field '{field}' ")
    assert says in str(caught.value) and list(tmp_path.iterdir()) == []


GOOD = '{"context": [{"speaker": "u", "text": "hi"}], "response": {"speaker": "b", "text": "ok"}'


@pytest.mark.parametrize("line, field, says", [
    (GOOD + ', "meta": {"score": NaN}}', "meta.score", "NaN is not a number JSON allows (write null or a finite number)"),
    (GOOD + ', "meta": {"p": {"ratio": 1e999}}}', "meta.p.ratio", "1e999 is not a number JSON allows (write null or a finite number)"),
    (GOOD + ', "meta": {"scores": [1, -Infinity]}}', "meta.scores[1]", "-Infinity is not a number JSON allows (write null or a finite number)"),
    (GOOD + ', "source": "a", "source": "b"}', "source", "duplicate key (JSON keeps only the last one)"),
    ('{"context": [{"speaker": "u", "text": "hi", "text": "ho"}], "response": {"speaker": "b", "text": "ok"}}',
     "text", "duplicate key (JSON keeps only the last one)"),
])
def test_non_finite_numbers_and_duplicate_keys_are_refused_with_file_line_and_field(tmp_path, line, field, says):
    path = tmp_path / "mine.jsonl"
    path.write_text(GOOD + "}\n" + line + "\n")
    with pytest.raises(DataFormatError) as caught:
        load_pairs(path)
    assert (caught.value.line, caught.value.field) == (2, field)
    assert str(caught.value) == f"{path}, line 2, field '{field}': {says}"
