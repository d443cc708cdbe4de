import random

from heygen_lib.augment import TextAugmenter
from heygen_lib.data import Dialogue, Turn, build_pairs
from heygen_lib.widgets import augmentation_preview, pairs_explorer


class Upper(TextAugmenter):
    name, config = "upper", None

    def augment(self, texts, rng: random.Random):
        return [t.upper() for t in texts]


def dialogues():
    return [Dialogue(f"d{i}", (Turn("c", f"question {i}"), Turn("a", f"answer {i}")), "t") for i in range(10)]


# Outside a kernel an Output widget captures nothing, so what the panel's first run prints reaches stdout.


def test_preview_runs_once_on_build_and_shows_before_and_after(capsys):
    augmentation_preview(build_pairs(dialogues()), {"upper": lambda rate: Upper()}, seed=1)
    text = capsys.readouterr().out
    assert "upper: 2 inputs -> 2 new" in text
    assert text.count("before [t:") == 2 and "->a: ANSWER" in text


def test_pairs_explorer_reports_split_sizes(capsys):
    pairs_explorer({"toy": dialogues()})
    assert "toy, context of up to 3 turns: train 8 pairs (8 dialogues)" in capsys.readouterr().out
