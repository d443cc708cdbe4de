import math

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainingArguments

from heygen_lib.data import Pair, Turn
from heygen_lib.nlg.finetune import (FineTuneConfig, checkpoint_to_resume, fine_tune, freeze_layers, load_model,
                                     planned_steps, save_model, set_dropout, tokenizer_texts, training_arguments)
from heygen_lib.nlg.hf_training import ScoredPositions, batch_loss, loss_on_scored_positions
from heygen_lib.nlg.rows import IGNORE, collator_for, encode_pairs
from heygen_lib.tiny_models import TinyCausalLMConfig, build_tiny_causal_lm

THINGS, STATES = ("parcel", "kettle", "refund", "app"), ("late", "broken", "missing")
PAIRS = [Pair((Turn("customer", f"my {thing} is {state}"),), Turn("agent", f"sorry your {thing} is {state}."),
              f"d{i}", "test", 1) for i, (thing, state) in enumerate((t, s) for t in THINGS for s in STATES)]
TRAIN, DEV = PAIRS[:8], PAIRS[8:]
TINY = TinyCausalLMConfig(vocab_size=300, d_model=16, layers=2, heads=2, max_positions=64)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return build_tiny_causal_lm(tokenizer_texts(PAIRS), tmp_path_factory.mktemp("tiny") / "lm", TINY)


def load(folder):
    return load_model(folder)


def quick(**changes) -> FineTuneConfig:
    settings = dict(learning_rate=1e-2, batch_size=4, epochs=1, max_length=48, evals_per_epoch=1, logging_steps=1,
                    early_stopping_patience=0)
    return FineTuneConfig(**{**settings, **changes})


def snapshot(model):
    return {name: p.detach().clone() for name, p in model.named_parameters()}


@pytest.mark.parametrize("strategy", ["head", "top-k"])
def test_frozen_parameters_stay_unchanged_and_trained_ones_change(folder, tmp_path, strategy):
    model, tok = load(folder)
    before = snapshot(model)
    fine_tune(model, tok, TRAIN, DEV, quick(freeze=strategy, top_k=1, max_steps=2), tmp_path, progress=False)
    changed = {name for name, p in model.named_parameters() if not torch.equal(p, before[name])}
    trained = {name for name, p in model.named_parameters() if p.requires_grad}
    assert changed == trained
    if strategy == "head":  # GPT-2's head is its input embedding: that one matrix trains, nothing else
        assert trained == {"transformer.wte.weight"}
    else:
        top_block = {n for n in before if n.startswith("transformer.h.1.")}
        assert {n for n in trained if n.startswith("transformer.h.")} == top_block
        assert {"transformer.ln_f.weight", "transformer.wte.weight"} <= trained
        assert not any(n.startswith("transformer.h.0.") or n.startswith("transformer.wpe") for n in trained)


def test_freeze_none_trains_everything_and_top_k_beyond_the_depth_is_refused(folder):
    model, _ = load(folder)
    assert freeze_layers(model, "head") == model.transformer.wte.weight.numel()
    assert freeze_layers(model, "none") == sum(p.numel() for p in model.parameters())
    with pytest.raises(ValueError, match="top_k must be between 1 and 2"):
        freeze_layers(model, "top-k", top_k=3)


def test_early_stopping_stops_after_patience_evaluations_without_improvement(folder, tmp_path):
    model, tok = load(folder)
    # learning rate 0: the dev loss can never improve, so the second evaluation already exhausts a patience of 1
    config = quick(learning_rate=0.0, weight_decay=0.0, max_steps=20, early_stopping_patience=1)
    result = fine_tune(model, tok, TRAIN, DEV, config, tmp_path, progress=False)
    per_eval = 2  # 8 rows / batch 4 = 2 steps per epoch, one evaluation per epoch
    assert result.stopped_early and result.steps == 2 * per_eval and result.planned_steps == 20
    dev = [r for r in result.history if r["phase"] == "dev"]
    assert [r["step"] for r in dev] == [0, per_eval, 2 * per_eval]  # step 0: before fine-tuning
    assert len({round(r["loss"], 6) for r in dev}) == 1
    assert not list(tmp_path.glob("checkpoint-*"))  # checkpoints are removed once the best is loaded


def test_an_improvement_smaller_than_the_threshold_does_not_count(folder, tmp_path):
    model, tok = load(folder)
    # the dev loss falls, but never by 100 nats: with a patience of 1 the run stops after its second evaluation
    config = quick(max_steps=20, early_stopping_patience=1, early_stopping_threshold=100.0)
    result = fine_tune(model, tok, TRAIN, DEV, config, tmp_path, progress=False)
    dev = [r["loss"] for r in result.history if r["phase"] == "dev"]
    assert result.stopped_early and result.steps == 4 and dev[2] < dev[0]
    with pytest.raises(ValueError, match="early_stopping_threshold"):
        FineTuneConfig(early_stopping_threshold=-0.1)


def test_training_lowers_the_dev_loss_and_keeps_the_best_checkpoint(folder, tmp_path):
    model, tok = load(folder)
    records = []
    result = fine_tune(model, tok, TRAIN, DEV, quick(epochs=4, evals_per_epoch=2), tmp_path, callbacks=[records.append],
                       progress=False)
    dev = {r["step"]: r["loss"] for r in result.history if r["phase"] == "dev"}
    assert records == result.history and {r["phase"] for r in records} == {"train", "dev"}
    assert result.best_dev_loss == min(loss for step, loss in dev.items() if step > 0) < dev[0]
    assert result.best_step == min((loss, step) for step, loss in dev.items() if step > 0)[1]
    assert model.lm_head.weight is model.transformer.wte.weight  # still tied after loading the best checkpoint


def test_a_run_without_dev_evaluations_takes_its_whole_budget_and_keeps_its_last_weights(folder, tmp_path):
    model, tok = load(folder)
    result = fine_tune(model, tok, TRAIN, DEV, quick(evals_per_epoch=0, max_steps=3), tmp_path, progress=False)
    assert result.steps == result.best_step == 3 and math.isnan(result.best_dev_loss)
    assert {r["phase"] for r in result.history} == {"train"} and not list(tmp_path.glob("checkpoint-*"))
    for needs_evaluations in ({"early_stopping_patience": 2}, {"resume": True}):
        with pytest.raises(ValueError, match="evals_per_epoch=0 set early_stopping_patience=0 and resume=False"):
            quick(evals_per_epoch=0, **needs_evaluations)


def test_save_and_load_give_identical_logits(folder, tmp_path):
    model, tok = load(folder)
    fine_tune(model, tok, TRAIN, DEV, quick(max_steps=2), tmp_path / "run", progress=False)
    saved = save_model(model, tok, tmp_path / "model")
    again, tok_again = load_model(saved)
    ids = torch.tensor([tok("customer: my kettle is late")["input_ids"]])
    with torch.no_grad():
        assert torch.equal(model.eval()(ids).logits, again.eval()(ids).logits)
    assert tok_again.pad_token_id == tok.pad_token_id != tok.eos_token_id
    assert isinstance(AutoModelForCausalLM.from_pretrained(saved), type(model)) and AutoTokenizer.from_pretrained(saved)


def test_a_dropout_override_reaches_every_dropout_layer_and_the_config(folder):
    model, _ = load(folder)
    set_dropout(model, 0.3)
    layers = [m for m in model.modules() if isinstance(m, torch.nn.Dropout)]
    assert layers and all(m.p == 0.3 for m in layers)
    assert model.config.resid_pdrop == model.config.attn_pdrop == model.config.embd_pdrop == 0.3


def test_the_tiny_model_is_built_when_no_name_is_given(monkeypatch, tmp_path):
    monkeypatch.setenv("HEYGEN_ARTIFACTS_DIR", str(tmp_path))
    model, tok = load_model(None, tokenizer_texts(PAIRS))
    assert (tmp_path / "nlg" / "tiny-base" / "config.json").is_file()
    assert tok.convert_tokens_to_ids("<|response|>") != tok.unk_token_id
    assert model.config.pad_token_id == tok.pad_token_id
    with pytest.raises(ValueError, match="train_texts"):
        load_model(None)


def test_budget_and_version_sensitive_arguments(tmp_path):
    assert planned_steps(10, quick(epochs=2)) == 6  # ceil(10 / 4) = 3 steps per epoch
    assert planned_steps(10, quick(max_steps=7)) == 7
    assert planned_steps(10, quick(epochs=1, gradient_accumulation=2)) == 2
    args = training_arguments(output_dir=str(tmp_path), warmup_ratio=0.25, group_by_length=True,
                              eval_strategy="steps", report_to="none")
    assert isinstance(args, TrainingArguments) and getattr(args.eval_strategy, "value", None) == "steps"
    assert getattr(args, "warmup_ratio", None) == 0.25 or args.warmup_steps == 0.25
    assert getattr(args, "group_by_length", False) or args.train_sampling_strategy == "group_by_length"


@pytest.mark.parametrize("field, value", [("optimizer", "adam"), ("freeze", "bottom"), ("mixed_precision", "fp8"),
                                          ("report_to", "wandb"), ("warmup_ratio", 1.0), ("dropout", 1.0)])
def test_a_bad_setting_is_refused_by_name(field, value):
    with pytest.raises(ValueError, match=field):
        FineTuneConfig(**{field: value})


def test_tensorboard_events_go_under_the_output_dir_and_nowhere_else(folder, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a misplaced SummaryWriter would write ./runs here
    model, tok = load(folder)
    result = fine_tune(model, tok, TRAIN, DEV, quick(max_steps=2, report_to="tensorboard"), tmp_path / "run",
                       progress=False)
    assert list((tmp_path / "run" / "runs").rglob("events.out.tfevents.*"))
    assert not (tmp_path / "runs").exists()
    assert [r["step"] for r in result.history if r["phase"] == "dev"][0] == 0


def test_a_resume_starts_from_the_newest_checkpoint_and_a_fresh_output_folder_from_nothing(tmp_path):
    output = tmp_path / "not yet created"  # as on a torchrun process other than rank 0, which creates it
    assert checkpoint_to_resume(output) is None
    for step in (3, 10, 7):
        (output / f"checkpoint-{step}").mkdir(parents=True)
    (output / "checkpoint-99").write_text("")  # a file, not a checkpoint folder
    assert checkpoint_to_resume(output) == str(output / "checkpoint-10")


def test_the_loss_from_the_scored_positions_alone_is_the_models_own_loss(folder):
    model, tok = load(folder)
    rows, _ = encode_pairs(tok, TRAIN, 48)
    plain = collator_for(tok)
    settings = loss_on_scored_positions(model, plain)
    assert isinstance(settings["data_collator"], ScoredPositions)  # transformers 5 projects a mask of positions
    batch = settings["data_collator"](rows)
    scored = int((batch["labels"][:, 1:] != IGNORE).sum())
    with torch.no_grad():
        everywhere = model(**plain(rows))
        labels = batch.pop("labels")
        outputs = model(**batch)
    assert outputs.logits.shape == (scored, everywhere.logits.size(-1))  # only the scored positions are projected
    torch.testing.assert_close(settings["compute_loss_func"](outputs, labels), everywhere.loss)
    torch.testing.assert_close(settings["compute_loss_func"](outputs, labels, num_items_in_batch=2 * scored),
                               everywhere.loss / 2)  # a sum over an accumulated batch of twice the tokens


def test_a_hand_written_step_takes_the_same_loss_on_either_path(folder):
    model, tok = load(folder)
    rows, _ = encode_pairs(tok, TRAIN, 48)
    plain = collator_for(tok)
    settings = loss_on_scored_positions(model, plain)
    with torch.no_grad():
        own = batch_loss(model, plain(rows))
        scored = batch_loss(model, settings["data_collator"](rows), settings["compute_loss_func"])
    torch.testing.assert_close(own, model(**plain(rows)).loss)
    torch.testing.assert_close(scored, own)


def test_fine_tuning_on_the_scored_positions_follows_the_same_losses_as_on_every_position(folder, tmp_path,
                                                                                        monkeypatch):
    import heygen_lib.nlg.finetune as finetune

    def history(name):
        model, tok = load(folder)
        return [r["loss"] for r in fine_tune(model, tok, TRAIN, DEV, quick(max_steps=3), tmp_path / name,
                                             progress=False).history]

    scored = history("scored")
    monkeypatch.setattr(finetune, "loss_on_scored_positions", lambda model, collator: {"data_collator": collator})
    assert scored == pytest.approx(history("every"), rel=1e-4)
