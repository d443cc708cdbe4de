import pytest

from heygen_lib.data import Dialogue, Turn, build_pairs, split_dialogues


def dialogue(id: str, n_turns: int = 4, text: str | None = None) -> Dialogue:
    turns = tuple(Turn("customer" if i % 2 == 0 else "agent", text or f"{id} turn {i}") for i in range(n_turns))
    return Dialogue(id, turns, "test")


def test_pairs_take_a_window_of_previous_turns_as_context():
    pairs = build_pairs([dialogue("d", 5)], context_turns=2)
    assert [p.turn_index for p in pairs] == [1, 2, 3, 4]
    assert [t.text for t in pairs[0].context] == ["d turn 0"]
    assert [t.text for t in pairs[3].context] == ["d turn 2", "d turn 3"]
    assert pairs[3].response.text == "d turn 4" and pairs[3].dialogue_id == "d"


def test_pairs_can_keep_only_one_speakers_responses():
    pairs = build_pairs([dialogue("d", 5)], context_turns=3, response_speaker="agent")
    assert [p.turn_index for p in pairs] == [1, 3]
    assert all(p.response.speaker == "agent" for p in pairs)


def test_context_window_must_hold_a_turn_and_one_is_enough():
    with pytest.raises(ValueError, match="at least 1"):
        build_pairs([dialogue("d")], context_turns=0)
    pairs = build_pairs([dialogue("d", 3)], context_turns=1)
    assert [[t.text for t in p.context] for p in pairs] == [["d turn 0"], ["d turn 1"]]


def test_split_never_puts_one_conversation_in_two_splits():
    dialogues = [dialogue(f"d{i}") for i in range(200)]
    splits = split_dialogues(dialogues, seed=3)
    ids = [{d.id for d in part} for part in (splits.train, splits.dev, splits.test)]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    assert sum(map(len, ids)) == 200
    assert splits.sizes() == {"train": 160, "dev": 20, "test": 20}
    for name, part in (("train", splits.train), ("dev", splits.dev), ("test", splits.test)):
        pair_ids = {p.dialogue_id for p in build_pairs(part)}
        assert pair_ids == {d.id for d in part}, name


def test_copies_of_one_conversation_under_other_ids_stay_in_one_split():
    dialogues = [dialogue(f"d{i}") for i in range(50)] + [dialogue(f"copy{i}", text="same words") for i in range(5)]
    splits = split_dialogues(dialogues, seed=1)
    holding = [name for name, part in splits.sizes().items() if any(d.id.startswith("copy") for d in getattr(splits, name))]
    assert len(holding) == 1


def test_split_is_deterministic_for_a_seed_and_changes_with_it():
    dialogues = [dialogue(f"d{i}") for i in range(100)]
    first, again, other = (split_dialogues(dialogues, seed=s) for s in (0, 0, 1))
    assert [d.id for d in first.test] == [d.id for d in again.test]
    assert [d.id for d in first.test] != [d.id for d in other.test]
    assert [d.id for d in split_dialogues(list(reversed(dialogues)), seed=0).test] == [d.id for d in first.test]


@pytest.mark.parametrize("fractions", [(0.5, 0.5), (0.8, 0.3, 0.1), (1.2, -0.1, -0.1)])
def test_split_fractions_are_checked(fractions):
    with pytest.raises(ValueError, match="fractions"):
        split_dialogues([dialogue("d")], fractions=fractions)


def test_leak_count_is_zero_for_the_split_and_counts_each_leaked_conversation_once():
    from heygen_lib.data import Splits, conversations_in_two_splits

    dialogues = [dialogue(f"d{i}") for i in range(40)] + [dialogue(f"copy{i}", text="same words") for i in range(3)]
    splits = split_dialogues(dialogues, seed=2)
    assert conversations_in_two_splits(splits) == 0
    leaked = splits.train[0]
    assert conversations_in_two_splits(Splits(splits.train, splits.dev, [*splits.test, leaked])) == 1
    renamed = Dialogue("other-id", leaked.turns, leaked.source)  # same turns under another id
    assert conversations_in_two_splits(Splits(splits.train, [*splits.dev, renamed], splits.test)) == 1
    same_id = Dialogue(leaked.id, (Turn("x", "new words"),), leaked.source)  # same id, other turns
    assert conversations_in_two_splits(Splits(splits.train, splits.dev, [same_id])) == 1


def chats(n=20, turns=6):
    return [Dialogue(f"c{i}", tuple(Turn("customer" if j % 2 == 0 else "agent", f"message {j} of chat {i}")
                                   for j in range(turns)), "t") for i in range(n)]


def test_a_random_pair_split_shares_most_test_conversations_with_train_and_a_conversation_split_none():
    from heygen_lib.data import random_pair_split, shared_conversations

    pairs = build_pairs(chats(), response_speaker="agent")
    train, dev, test = random_pair_split(pairs, seed=0)
    assert sorted(map(id, train + dev + test)) == sorted(map(id, pairs))  # every pair once
    shared, tested = shared_conversations(train, test)
    assert tested > 0 and shared / tested > 0.5
    splits = split_dialogues(chats(), seed=0)
    by_conversation = [build_pairs(part, response_speaker="agent") for part in (splits.train, splits.test)]
    assert shared_conversations(*by_conversation) == (0, len(splits.test))
