import random
from dataclasses import dataclass

import pytest

from heygen_lib.augment import TextAugmenter, augment_pairs, augmented_pairs_path
from heygen_lib.augment.base import originals_of
from heygen_lib.data import Dialogue, Turn, build_pairs


@dataclass(frozen=True)
class ShoutConfig:
    min_chars: int = 4  # shorter texts cannot be shouted


class Shout(TextAugmenter):
    """Upper-cases texts of at least `min_chars` characters; None for shorter ones; counts its batches."""

    name = "shout"

    def __init__(self, config: ShoutConfig = ShoutConfig()):
        self.config = config
        self.batches: list[int] = []

    def augment(self, texts, rng):
        self.batches.append(len(texts))
        return [t.upper() if len(t) >= self.config.min_chars else None for t in texts]


def pairs():
    turns = (Turn("customer", "hello there"), Turn("agent", "hi!"), Turn("customer", "BIG"), Turn("agent", "sure thing"))
    return build_pairs([Dialogue("d1", turns, "test")], context_turns=2)


def test_response_target_rewrites_only_the_response_and_keeps_speakers():
    new, report = augment_pairs(pairs(), Shout(ShoutConfig(min_chars=1)), target="response")
    assert [p.response.text for p in new] == ["HI!", "SURE THING"]  # "BIG" is already upper case: unchanged
    assert all(p.context == o.context for p, o in zip(new, (pairs()[0], pairs()[2])))
    assert [p.response.speaker for p in new] == ["agent", "agent"]
    assert (report.inputs, report.made, report.skipped, report.unchanged) == (3, 2, 0, 1)


def test_both_target_rewrites_context_and_response_in_one_batch():
    augmenter = Shout(ShoutConfig(min_chars=1))
    new, _ = augment_pairs(pairs(), augmenter, target="both")
    assert new[2].context == (Turn("agent", "HI!"), Turn("customer", "BIG"))
    assert augmenter.batches == [1 + 1 + 2 + 1 + 2 + 1]


def test_a_pair_whose_text_cannot_be_rewritten_is_skipped_and_counted():
    new, report = augment_pairs(pairs(), Shout(ShoutConfig(min_chars=4)), target="context")
    assert [p.turn_index for p in new] == [1]  # the contexts of pairs 2 and 3 hold "hi!" (too short)
    assert report.skipped == 2


def test_provenance_names_augmenter_params_seed_target_and_origin():
    new, _ = augment_pairs(pairs(), Shout(ShoutConfig(min_chars=1)), target="response", copies=2, seed=7)
    assert new[0].meta["provenance"] == {
        "augmenter": "shout", "params": {"min_chars": 1}, "seed": 7, "from": "test:d1:1", "target": "response", "copy": 0,
    }
    assert [p.meta["provenance"]["copy"] for p in new] == [0, 0, 1, 1]
    assert pairs()[0].meta == {}


def test_unknown_target_is_rejected():
    with pytest.raises(ValueError, match="target must be"):
        augment_pairs(pairs(), Shout(), target="everything")


def test_rng_is_seeded_per_call():
    class Draw(TextAugmenter):
        name, config = "draw", None

        def augment(self, texts, rng: random.Random):
            return [f"{t} {rng.random():.6f}" for t in texts]

    first, _ = augment_pairs(pairs(), Draw(), seed=3)
    again, _ = augment_pairs(pairs(), Draw(), seed=3)
    other, _ = augment_pairs(pairs(), Draw(), seed=4)
    assert first == again and first != other


def test_the_context_is_rewritten_by_default_and_each_target_has_its_own_pool_file():
    new, _ = augment_pairs(pairs(), Shout(ShoutConfig(min_chars=1)))
    assert all(p.meta["provenance"]["target"] == "context" for p in new) and new
    assert all(n.response == o.response and n.context != o.context for n, o in zip(new, originals_of(new, pairs())))
    assert augmented_pairs_path().name == "support_train_augmented_context.jsonl"
    assert augmented_pairs_path("response") != augmented_pairs_path("context")


def kit_imports(path) -> set[str]:
    """The heygen_lib modules a source file imports, at the top or inside functions."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("heygen_lib")}


def test_augmentation_imports_nothing_from_the_layers_that_use_it():
    from heygen_lib.paths import PROJECT_ROOT

    above = ("heygen_lib.nlg", "heygen_lib.gan", "heygen_lib.dialogue_gan", "heygen_lib.chat")
    found = {path.name: sorted(m for m in kit_imports(path) if m.startswith(above))
             for path in (PROJECT_ROOT / "heygen_lib" / "augment").glob("*.py")}
    assert {name: mods for name, mods in found.items() if mods} == {}


def test_widgets_and_quiet_progress_import_nothing_from_augmentation():
    from heygen_lib.paths import PROJECT_ROOT

    assert not {m for m in kit_imports(PROJECT_ROOT / "heygen_lib" / "widgets.py") if m.startswith("heygen_lib.augment")}
    assert kit_imports(PROJECT_ROOT / "heygen_lib" / "quiet.py") == set()
