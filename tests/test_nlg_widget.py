from heygen_lib.data import Pair, Turn
from heygen_lib.nlg.finetune import FineTuneConfig, load_model, tokenizer_texts
from heygen_lib.nlg.widget import fine_tune_panel
from heygen_lib.tiny_models import TinyCausalLMConfig, build_tiny_causal_lm

PAIRS = [Pair((Turn("customer", f"my {t} is {s}"),), Turn("agent", f"sorry your {t} is {s}."), f"d{i}", "test", 1)
         for i, (t, s) in enumerate((t, s) for t in ("parcel", "kettle", "app") for s in ("late", "broken"))]

# Outside a kernel an Output widget captures nothing, so what the panel's first run prints reaches stdout.


def test_the_panel_fine_tunes_a_fresh_model_once_on_build_with_its_controls_values(tmp_path, capsys):
    config = TinyCausalLMConfig(vocab_size=300, d_model=16, layers=2, heads=2, max_positions=64)
    folder = build_tiny_causal_lm(tokenizer_texts(PAIRS), tmp_path / "lm", config)
    loads = []

    def load_base():
        loads.append(1)
        return load_model(folder)

    settings = FineTuneConfig(learning_rate=1e-2, batch_size=2, max_length=48, evals_per_epoch=1,
                              early_stopping_patience=0)
    panel = fine_tune_panel(load_base, {"real": PAIRS[:4], "all": PAIRS[:5]}, PAIRS[4:], settings, tmp_path / "run",
                            blocks=2, epochs=1.0)
    out = capsys.readouterr().out
    assert loads == [1]
    assert "4 pairs, " in out and " 2 steps in " in out and "dev perplexity " in out
    optimizer, lr, epochs, freeze, top_k, mix = panel.children[1:7]
    assert (optimizer.value, freeze.value, top_k.max, mix.value, epochs.value) == ("adamw", "none", 2, "real", 1.0)
    freeze.value, mix.value = "head", "all"
    panel.children[7].click()
    out = capsys.readouterr().out
    assert loads == [1, 1] and "5 pairs, " in out and " 3 steps in " in out
    assert f"{load_base()[0].transformer.wte.weight.numel():,} trainable parameters" in out
