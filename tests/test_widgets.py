import random

from heygen_lib.augment import TextAugmenter
from heygen_lib.data import Dialogue, Turn, build_pairs
from heygen_lib.augment.panel import augmentation_preview
from heygen_lib.widgets import pairs_explorer


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
    assert "toy, context of up to 3 turns, responses by anyone: train 8 pairs (8 dialogues)" in capsys.readouterr().out


def support_like():
    def turns(i):
        return (Turn("customer", f"hi {i}"), Turn("agent", "hello"), Turn("customer", "my order?"),
                Turn("agent", "on its way"))
    return [Dialogue(f"s{i}", turns(i)[: 2 + 2 * (i % 2)], "support") for i in range(10)]


def test_pairs_explorer_takes_agent_responses_for_support_like_notebook_01(capsys):
    corpora = {"support": support_like(), "toy": dialogues()}
    box = pairs_explorer(corpora, context_turns=2)
    out = capsys.readouterr().out
    assert "support, context of up to 2 turns, responses by agent: train 13 pairs (8 dialogues)" in out
    assert {p.response.speaker for ps in box.pairs.values() for p in ps} == {"agent"}
    # the same numbers the notebook's section 4 computes with the library at the same settings
    from heygen_lib.data import split_dialogues
    splits = split_dialogues(corpora["support"], seed=0)
    assert {k: len(v) for k, v in box.pairs.items()} == {
        k: len(build_pairs(getattr(splits, k), context_turns=2, response_speaker="agent"))
        for k in ("train", "dev", "test")}

    speaker = box.children[3]
    assert speaker.options == (("anyone", ""), ("customer", "customer"), ("agent", "agent"))
    speaker.value = ""
    box.run()
    assert sum(map(len, box.pairs.values())) == 5 * 1 + 5 * 3  # every turn after the first answers
    box.children[1].value = "toy"  # another corpus: its own speakers, responses by anyone
    assert speaker.options == (("anyone", ""), ("c", "c"), ("a", "a")) and speaker.value == ""


def test_live_plot_redraws_every_n_records_and_gan_panel_trains_once_on_build(capsys):
    from heygen_lib.gan.discriminators import CNNDiscriminator, CNNDiscriminatorConfig
    from heygen_lib.gan.evaluation import oracle_metrics
    from heygen_lib.gan.generators import LSTMGenerator, LSTMGeneratorConfig
    from heygen_lib.gan.training import GANTrainer
    from heygen_lib.widgets import LivePlot, gan_panel

    live = LivePlot([("eval", "x")], every=2)
    redraws = []
    live.redraw = lambda: redraws.append(len(live.records))
    for i in range(5):
        live({"phase": "eval", "step": i, "x": float(i)})
    assert redraws == [2, 4]

    oracle = LSTMGenerator(LSTMGeneratorConfig(vocab_size=20, max_len=5, embed_dim=8, hidden_dim=8, init="normal"))
    real = oracle.sample(64)
    made = []

    def make(config):
        made.append(config)
        g = LSTMGenerator(LSTMGeneratorConfig(vocab_size=20, max_len=5, embed_dim=8, hidden_dim=8))
        d = CNNDiscriminator(CNNDiscriminatorConfig(vocab_size=20, max_len=5, embed_dim=8, filter_widths=(2,), filter_counts=(4,)))
        return GANTrainer(g, d, real, config)

    gan_panel(make, oracle_metrics(oracle, real, n_samples=32), steps=2, eval_every=1)
    assert [(c.method, c.loss, c.anneal_steps) for c in made] == [("gumbel", "rsgan", 2)]
    assert "final:" in capsys.readouterr().out


def test_a_panel_whose_run_fails_says_so_in_its_status_line():
    import html

    from heygen_lib.widgets import run_panel

    calls = []

    def action(_):
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("top k is larger than the model's 6 blocks")
        print("ran")

    box = run_panel([], action, "a panel", run_now=False)
    button = next(child for child in box.children if getattr(child, "description", "") == "Run")
    button.click()  # a click's error would otherwise go to the widget log only
    assert "ValueError: top k is larger than the model's 6 blocks" in html.unescape(box.status.value)
    button.click()
    assert box.status.value == "" and calls == [1, 1]
