"""What TensorBoard shows is what the trainers recorded: the same numbers at the same steps, read back from the
events file (an events file that merely exists could hold nothing, or the wrong numbers)."""

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from heygen_lib.data import Pair, Turn
from heygen_lib.gan.discriminators import CNNDiscriminator, CNNDiscriminatorConfig
from heygen_lib.gan.generators import LSTMGenerator, LSTMGeneratorConfig
from heygen_lib.gan.training import GANTrainer, TrainConfig
from heygen_lib.nlg.finetune import FineTuneConfig, fine_tune, load_model, tokenizer_texts
from heygen_lib.tiny_models import TinyCausalLMConfig, build_tiny_causal_lm


def scalars(folder) -> dict[str, list[tuple[int, float]]]:
    """Every scalar under `folder` (all events files), as (step, value) pairs per tag."""
    found = {}
    for events in sorted(folder.rglob("events.out.tfevents.*")):
        accumulator = EventAccumulator(str(events)).Reload()
        for tag in accumulator.Tags()["scalars"]:
            found.setdefault(tag, []).extend((e.step, e.value) for e in accumulator.Scalars(tag))
    return found


def test_the_gan_trainers_records_are_what_tensorboard_shows(tmp_path):
    torch.manual_seed(0)
    generator = LSTMGenerator(LSTMGeneratorConfig(vocab_size=12, max_len=6, embed_dim=8, hidden_dim=8))
    discriminator = CNNDiscriminator(CNNDiscriminatorConfig(vocab_size=12, max_len=6, embed_dim=8, filter_widths=(2,),
                                                            filter_counts=(4,)))
    real = torch.randint(12, (64, 6), generator=torch.Generator().manual_seed(1))
    trainer = GANTrainer(generator, discriminator, real, TrainConfig(batch_size=16), log_dir=tmp_path)
    records = [trainer.mle_epoch(), trainer.mle_epoch(), trainer.discriminator_step()]
    trainer.writer.flush()
    shown = scalars(tmp_path)
    assert shown["mle/nll"] == [(1, pytest.approx(records[0]["nll"])), (2, pytest.approx(records[1]["nll"]))]
    assert shown["discriminator/accuracy"] == [(1, pytest.approx(records[2]["accuracy"]))]
    assert set(shown) == {"mle/nll", "discriminator/loss", "discriminator/accuracy"}


def test_fine_tunings_logged_losses_are_what_tensorboard_shows(tmp_path):
    pairs = [Pair((Turn("customer", f"my {thing} is late"),), Turn("agent", f"sorry, your {thing} ships today."),
                  f"d{i}", "test", 1) for i, thing in enumerate(["parcel", "kettle", "lamp", "radio", "fridge", "app"])]
    folder = build_tiny_causal_lm(tokenizer_texts(pairs), tmp_path / "lm",
                                  TinyCausalLMConfig(vocab_size=300, d_model=16, layers=1, heads=2, max_positions=64))
    model, tokenizer = load_model(folder)
    config = FineTuneConfig(learning_rate=1e-2, batch_size=2, epochs=1, max_length=48, evals_per_epoch=1,
                            logging_steps=1, early_stopping_patience=0, max_steps=3, report_to="tensorboard")
    result = fine_tune(model, tokenizer, pairs[:4], pairs[4:], config, tmp_path / "run", progress=False)
    train = [(r["step"], r["loss"]) for r in result.history if r["phase"] == "train"]
    assert [step for step, _ in train] == [1, 2, 3]
    shown = scalars(tmp_path / "run")
    assert shown["train/loss"] == [(step, pytest.approx(loss, rel=1e-5)) for step, loss in train]
