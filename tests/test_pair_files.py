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
