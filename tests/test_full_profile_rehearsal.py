"""The full profile's GPU path, rehearsed on the CPU: each notebook's heavy library calls, with the rehearsal profile.

The rehearsal profile (`heygen_lib.profile.rehearsal_of`) is the full profile's configs and shapes with every count
capped, on models of the full profile's architectures with random weights (`heygen_lib.rehearsal`): distilgpt2's
82M parameters and 50,257-token vocabulary, the MarianMT pair, the real MiniLM, the full oracle. Data sizes are cut
to one full batch (`BATCH` real pairs), so every forward and backward pass below has the shape it has on Colab.

`REHEARSED` names, per notebook, the library calls its rehearsal makes. `test_every_notebook_is_rehearsed` fails
when a notebook has no entry, or when a listed call no longer appears in the notebook or in its rehearsal: a
notebook's full-profile path cannot drop out of `make test` unnoticed.
"""

from __future__ import annotations

import copy
import inspect
import json
import math
import re
import warnings
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from heygen_lib.paths import ARTIFACTS_ENV, PROJECT_ROOT
from heygen_lib.profile import ENV_VAR, ONE_STEP, PROFILES, REHEARSAL

FULL, PROFILE = PROFILES["full"], PROFILES[REHEARSAL]
BATCH = PROFILE.nlg.batch_size  # real pairs kept per split: one full fine-tuning batch
SEED = 0

# notebook -> the library calls its rehearsal makes (each must appear in the notebook and in the test below)
REHEARSED = {
    "01_dialogue_data": ("load_corpus", "clean_dialogues", "split_dialogues", "build_pairs"),
    "02_augmentation": ("prepare_pairs", "candidate_augmenters", "measure", "SelectionRule.for_target",
                        "rule_pool"),
    "03_text_gans": ("oracle_benchmark", "oracle_metrics", "train_mle", "evaluation_noise",
                     "pretrain_discriminator", "train_adversarial", "temperature_sweep", "Vocabulary.build"),
    "04_dialogue_gan": ("gan.mle_model", "gan.load_frozen", "gan.real_perplexities", "gan.generate_texts",
                        "gan.fit_pair_discriminator", "gan.adversarial_run", "gan.judge_features",
                        "gan.response_metrics", "gan.export_lm_candidates", "ReviewRule.calibrated", "rule_review",
                        "write_reviewed_pairs"),
    "05_fine_tuning": ("load_model", "profile_config", "run_variant", "generate_responses", "lc.run_curve",
                       "save_model"),
    "06_chatbot": ("load_chatbot", "bot.reply", "bot.stream", "retraining_set", "fine_tune", "choose_step",
                   "pair_log_perplexities", "paired_change", "round_verdict"),
}
_TESTS: dict[str, str] = {}  # notebook -> the test that rehearses it


def rehearses(notebook: str):
    """Mark a test as the rehearsal of `notebook`'s calls (`REHEARSED`)."""
    def mark(test):
        _TESTS[notebook] = test.__name__
        return test
    return mark


@pytest.fixture(scope="module", autouse=True)
def rehearsal_profile(tmp_path_factory):
    """HEYGEN_PROFILE=rehearsal and a fresh artifacts folder, as on a new Colab runtime; the stand-in models are
    built once into the kit's artifacts/rehearsal (reused by later runs)."""
    from heygen_lib.profile import active_profile
    from heygen_lib.rehearsal import ensure_models

    ensure_models()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(ENV_VAR, REHEARSAL)
        patch.setenv(ARTIFACTS_ENV, str(tmp_path_factory.mktemp("rehearsal-artifacts")))
        assert active_profile() is PROFILE
        yield PROFILE


@pytest.fixture(scope="module")
def support():
    """The support set's splits, each cut to one full batch of pairs."""
    from heygen_lib.data import prepare_pairs

    prepared = prepare_pairs("support", seed=SEED)
    return prepared, prepared.train[:BATCH], prepared.dev[:BATCH], prepared.test[:BATCH]


@pytest.fixture(scope="module")
def fine_tuned(support, tmp_path_factory):
    """Notebook 05's main run at the full profile's fine-tuning config (one optimizer step), saved where notebook 06
    loads it from."""
    from heygen_lib.nlg.compare import Variant, run_variant
    from heygen_lib.nlg.finetune import base_model, model_dir, profile_config, save_model

    _, train, dev, test = support
    config = profile_config(PROFILE.nlg, seed=SEED)
    assert config == replace(profile_config(FULL.nlg, seed=SEED), epochs=ONE_STEP)  # only the count differs
    outcome = run_variant("pretrained", Variant(base_model(), config), train, dev, test,
                          tmp_path_factory.mktemp("nlg") / "main", eval_contexts=PROFILE.nlg.curve_reply_contexts,
                          max_new_tokens=PROFILE.nlg.max_new_tokens)
    save_model(outcome.model, outcome.tokenizer, model_dir())
    return outcome


def test_rehearsal_keeps_every_full_shape_and_caps_every_count():
    from dataclasses import fields, is_dataclass

    def flat(sizes, prefix=""):
        for field in fields(sizes):
            value = getattr(sizes, field.name)
            if is_dataclass(value):
                yield from flat(value, f"{prefix}{field.name}.")
            elif field.name != "name":
                yield f"{prefix}{field.name}", value

    full, rehearsed = dict(flat(FULL)), dict(flat(PROFILE))
    changed = {name for name in full if full[name] != rehearsed[name]}
    models = {"augment.translation", "nlg.model"}
    assert changed - models == {name for name in changed - models if _is_count(name)}  # no shape changed
    for name in changed - models:
        small, large = rehearsed[name], full[name]
        if isinstance(small, tuple):
            small, large = len(small), len(large)
        assert large is None or small < large, name  # a cap, never a raise
    assert models <= changed and all(Path(p).is_dir() for p in (PROFILE.nlg.model, *PROFILE.augment.translation))


def _is_count(name: str) -> bool:
    return name.endswith(("steps", "epochs", "samples", "pairs", "candidates", "keep", "repeats", "seeds",
                          "contexts", "sizes", "train", "eval_every"))


def test_rehearsal_models_have_the_full_architectures():
    from transformers import AutoConfig, AutoTokenizer

    from heygen_lib.rehearsal import DISTILGPT2, OPUS_MT

    gpt2 = AutoConfig.from_pretrained(PROFILE.nlg.model)
    assert (gpt2.n_layer, gpt2.n_embd, gpt2.n_head, gpt2.vocab_size, gpt2.n_positions) == (6, 768, 12, 50257, 1024)
    assert len(AutoTokenizer.from_pretrained(PROFILE.nlg.model)) == DISTILGPT2["vocab_size"]
    for folder in PROFILE.augment.translation:
        marian = AutoConfig.from_pretrained(folder)
        assert (marian.d_model, marian.encoder_layers, marian.decoder_layers, marian.encoder_attention_heads,
                marian.encoder_ffn_dim, marian.vocab_size) == (512, 6, 6, 8, 2048, 58101)
        tokenizer = AutoTokenizer.from_pretrained(folder)
        assert (len(tokenizer), tokenizer.pad_token_id, tokenizer.eos_token_id) == (OPUS_MT["vocab_size"], 58100, 0)


def test_rehearsal_reports_itself_and_does_not_enforce_lessons(monkeypatch):
    from heygen_lib import lessons
    from heygen_lib.profile import environment_report

    monkeypatch.setenv(lessons.STRICT_ENV, "strict")
    assert "full shapes, random weights: numbers mean nothing, paths and memory do" in environment_report()
    assert not lessons.strict()
    assert lessons.check_lessons("rehearsal", [lessons.Lesson("lost on purpose", 0.0, ">", 1.0)])  # no raise


@pytest.mark.parametrize(("capability", "expected"), [((7, 5), {"fp16": True}), ((8, 0), {"bf16": True})])
def test_auto_precision_is_fp16_on_a_t4_that_only_emulates_bf16(monkeypatch, capability, expected):
    """A Colab T4 answers `is_bf16_supported()` with True (it can store bf16); Trainer must not train in it there."""
    from heygen_lib.nlg.hf_training import precision_flags

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.version, "hip", None)
    assert precision_flags("auto") == expected


@rehearses("01_dialogue_data")
def test_01_loads_cleans_and_splits_the_full_corpora():
    from heygen_lib.data import CORPORA, build_pairs, clean_dialogues, conversations_in_two_splits, load_corpus
    from heygen_lib.data import split_dialogues

    assert PROFILE.data.max_dialogues is None  # every dialogue, as on Colab
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the loaders' notes on malformed entries: notebook 01 prints them
        raw = {name: load_corpus(name, limit=PROFILE.data.max_dialogues) for name in CORPORA}
    cleaned = {name: clean_dialogues(dialogues)[0] for name, dialogues in raw.items()}
    splits = {name: split_dialogues(ds, fractions=(0.8, 0.1, 0.1), seed=SEED) for name, ds in cleaned.items()}
    pairs = build_pairs(splits["support"].train, context_turns=3, response_speaker="agent")
    assert len(raw["chitchat"]) > PROFILES["smoke"].data.max_dialogues  # more than the smoke profile loads
    assert pairs and all(conversations_in_two_splits(parts) == 0 for parts in splits.values())


@rehearses("02_augmentation")
def test_02_measures_every_augmenter_with_the_marian_pair_and_writes_the_pools(support):
    from heygen_lib.augment.evaluate import CachingEncoder, real_scores
    from heygen_lib.augment.selection import (SelectionRule, candidate_augmenters, candidates, lm_texts, measure,
                                              rule_pool, target_texts)
    from heygen_lib.language_models import NGramLM
    from heygen_lib.metrics import SentenceEncoder

    prepared, *_ = support
    sources = prepared.train[: PROFILE.augment.pairs]
    encoder = CachingEncoder(SentenceEncoder())  # the real MiniLM
    lm = NGramLM(order=3).fit(lm_texts(prepared.train, sources, "context"))
    assert real_scores(target_texts(sources, "context"), encoder, lm)
    augmenters = candidate_augmenters(PROFILE.augment.translation)
    assert "back-translation (MarianMT)" in augmenters
    rows, made = measure(sources, augmenters, candidates(augmenters, (0.1,)), encoder, lm, "context", SEED)
    marian = next(r for r in rows if r["augmenter"] == "back-translation (MarianMT)")
    assert marian["coverage"] > 0  # a full batch of 32 went through both translators
    rule = SelectionRule.for_target("context", min_similarity=0.85, max_perplexity_ratio=2.0)
    assert rule_pool(sources, augmenters, rule, rows, "context", SEED, made_by="rehearsal").path.is_file()


@rehearses("03_text_gans")
def test_03_trains_mle_seqgan_and_every_gumbel_loss_on_the_full_oracle(tmp_path):
    from heygen_lib.data import prepare_pairs
    from heygen_lib.gan.discriminators import CNNDiscriminator, cnn_config
    from heygen_lib.gan.evaluation import evaluation_noise, oracle_metrics, temperature_sweep, text_metrics
    from heygen_lib.gan.generators import (LSTMGenerator, LSTMGeneratorConfig, TransformerGenerator,
                                           TransformerGeneratorConfig, VAEGenerator, VAEGeneratorConfig)
    from heygen_lib.gan.oracle import FULL as FULL_ORACLE
    from heygen_lib.gan.oracle import oracle_benchmark, oracle_config, sample_oracle_data
    from heygen_lib.gan.text_data import Vocabulary, length_for
    from heygen_lib.gan.training import GANTrainer, TrainConfig, recipe, train_adversarial, train_mle

    sizes, oracle_sizes = PROFILE.gan, oracle_config(PROFILE.name)
    assert oracle_sizes == FULL_ORACLE
    oracle, train_data, test_data = oracle_benchmark(oracle_sizes, folder=tmp_path / "oracle")
    large = sample_oracle_data(oracle, sizes.large_train, seed=oracle_sizes.data_seed + 2_000_003)
    batch = TrainConfig().batch_size
    small = train_data[:batch]  # one batch per MLE epoch
    metrics = oracle_metrics(oracle, test_data, n_samples=sizes.eval_samples, train_data=small)

    def new_generator():
        return LSTMGenerator(LSTMGeneratorConfig(oracle_sizes.vocab_size, oracle_sizes.max_len, oracle_sizes.start_token))

    def new_discriminator():
        return CNNDiscriminator(cnn_config("small", oracle_sizes.vocab_size, oracle_sizes.max_len))

    mle = GANTrainer(new_generator(), new_discriminator(), small, TrainConfig(seed=SEED))
    train_mle(mle, sizes.mle_epochs, metrics, eval_every=sizes.eval_every)
    assert evaluation_noise(metrics, mle.generator, repeats=sizes.noise_repeats)["nll_oracle"][1] >= 0
    for generator in (TransformerGenerator(TransformerGeneratorConfig(oracle_sizes.vocab_size, oracle_sizes.max_len,
                                                                      oracle_sizes.start_token)),
                      VAEGenerator(VAEGeneratorConfig(oracle_sizes.vocab_size, oracle_sizes.max_len,
                                                      oracle_sizes.start_token))):
        train_mle(GANTrainer(generator, new_discriminator(), small,
                             TrainConfig(mle_lr=1e-3, kl_epochs=sizes.mle_epochs // 2 or 1, seed=SEED)),
                  sizes.mle_epochs)
    runs = [("seqgan_fast", {"rollouts": sizes.rollouts}, small), ("seqgan_fast", {"rollouts": sizes.rollouts}, large)]
    runs += [("relgan_fast", {"loss": loss}, small) for loss in sizes.gumbel_losses]  # all four: full only
    for name, options, real in runs:
        generator = new_generator()
        generator.load_state_dict(mle.generator.state_dict())
        run = GANTrainer(generator, new_discriminator(), real[:batch], recipe(name, seed=SEED, **options))
        run.pretrain_discriminator(test_data[:500], sizes.d_pretrain_steps, sizes.d_pretrain_target)
        train_adversarial(run, sizes.adversarial_steps if name == "seqgan_fast" else sizes.gumbel_steps, metrics,
                          eval_every=sizes.eval_every)
        assert all(math.isfinite(v) for r in run.history for v in r.values() if isinstance(v, float))
    sweep = temperature_sweep(mle.generator, lambda t: oracle_metrics(oracle, test_data, sizes.eval_samples, t), (1.0,))
    assert sweep
    texts = [p.response.text for p in prepare_pairs("support", seed=SEED).train]
    length, _ = length_for(texts, coverage=0.999)
    vocab = Vocabulary.build(texts, max_size=sizes.text_vocab)
    real = vocab.encode(texts, length)[:batch]
    text = GANTrainer(LSTMGenerator(LSTMGeneratorConfig(len(vocab), length, vocab.bos, embed_dim=64, hidden_dim=128)),
                      CNNDiscriminator(cnn_config("small", len(vocab), length)), real, recipe("seqgan_fast", rollouts=2))
    train_mle(text, sizes.text_mle_epochs)
    train_adversarial(text, sizes.text_adversarial_steps)
    assert text_metrics(vocab, texts[:50], n_samples=min(sizes.eval_samples, 500))(text.generator)


@rehearses("04_dialogue_gan")
def test_04_runs_the_lm_dialogue_gan_from_mle_to_the_reviewed_export(support, tmp_path):
    from heygen_lib.dialogue_gan import lm_pipeline as gan
    from heygen_lib.dialogue_gan.data import build_vocabulary, encode_pairs
    from heygen_lib.dialogue_gan.lstm.discriminator import PairDiscriminator, PairDiscriminatorConfig
    from heygen_lib.dialogue_gan.lstm.generator import Seq2SeqConfig, Seq2SeqGenerator
    from heygen_lib.dialogue_gan.review import ReviewStore, write_reviewed_pairs
    from heygen_lib.dialogue_gan.review_rule import ReviewRule, lexicon_check, rule_review
    from heygen_lib.dialogue_gan.lstm.training import DialogueGANConfig, DialogueGANTrainer, train_mle
    from heygen_lib.nlg.finetune import base_model

    _, train, dev, test = support
    sizes = PROFILE.dialogue_gan
    mle_folder, mle_result = gan.mle_model(base_model(), train, dev, sizes, SEED, progress=False)
    assert mle_result.steps == 1 and math.isfinite(mle_result.best_dev_loss)
    reference, tokenizer = gan.load_frozen(mle_folder)
    real_ppl = gan.real_perplexities(reference, tokenizer, dev, sizes)
    features = gan.lm_features(reference, tokenizer, sizes)

    def generated(pairs, seed):
        return gan.generate_texts(reference, tokenizer, [p.context for p in pairs], sizes.max_prompt,
                                  sizes.max_new_tokens, seed=seed)

    train_generated, dev_generated, test_generated = generated(train, SEED), generated(dev, 1), generated(test, 2)
    D = gan.fit_pair_discriminator(features, train, train_generated, dev, dev_generated, sizes.d_fit_steps, SEED)
    trainer = gan.adversarial_run(mle_folder, reference, tokenizer, D, train, gan.adversarial_config(sizes, SEED),
                                  sizes.lm_adversarial_steps, tmp_path / "adversarial.pt", progress=False)
    assert trainer.steps == 1 and math.isfinite(trainer.history[-1]["reward"])
    judge_feats = gan.judge_features()
    judge = gan.fit_pair_discriminator(judge_feats, dev, dev_generated, test, test_generated, sizes.d_fit_steps, 100)
    row = gan.response_metrics(test_generated, test[: sizes.eval_contexts], judge, judge_feats, reference, tokenizer,
                               sizes, {p.response.text for p in train})
    assert math.isfinite(row["MLE perplexity"])
    result = gan.export_lm_candidates(trainer.policy, tokenizer, train, D, features, judge, judge_feats, reference,
                                      sizes, sizes.lm_candidates, sizes.lm_keep, model="rehearsal",
                                      checkpoint=tmp_path / "adversarial.pt", seed=SEED, path=tmp_path / "cands.jsonl")
    known = [turn.text for p in train for turn in (*p.context, p.response)]
    rule = ReviewRule.calibrated(gan.real_judge_scores(judge, judge_feats, test), real_ppl, lexicon_check(known))
    store = ReviewStore(tmp_path / "review.jsonl")
    rule_review(store, result.candidates, rule)
    assert write_reviewed_pairs(store, result.candidates).is_file()
    vocab = build_vocabulary(train, sizes.vocab)  # the LSTM contrast, at the full widths
    encoded = encode_pairs(train, vocab, sizes.context_len, sizes.response_len)
    lstm = Seq2SeqGenerator(Seq2SeqConfig(vocab_size=len(vocab), response_len=sizes.response_len,
                                          embed_dim=sizes.hidden, hidden_dim=sizes.hidden))
    lstm_trainer = DialogueGANTrainer(lstm, PairDiscriminator(PairDiscriminatorConfig(vocab_size=len(vocab))), encoded,
                                      vocab, DialogueGANConfig(seed=SEED), dev=encode_pairs(dev, vocab,
                                                                                            sizes.context_len,
                                                                                            sizes.response_len))
    assert train_mle(lstm_trainer, sizes.mle_epochs, patience=sizes.mle_patience)


@rehearses("05_fine_tuning")
def test_05_fine_tunes_the_full_architecture_and_runs_the_learning_curve(support, fine_tuned, tmp_path):
    from heygen_lib.nlg import learning_curve as lc
    from heygen_lib.nlg.finetune import base_model, fixed_budget, load_model, model_dir, profile_config
    from heygen_lib.nlg.evaluate import generate_responses, perplexity

    _, train, dev, test = support
    result = fine_tuned.result
    assert result.steps == result.planned_steps == 1 and math.isfinite(result.best_dev_loss)
    assert len(fine_tuned.tokenizer) == 50257 + 3  # GPT-2's vocabulary and the format's three tokens
    assert math.isfinite(perplexity(fine_tuned.model, fine_tuned.tokenizer, test, PROFILE.nlg.max_length))
    replies = generate_responses(fine_tuned.model, fine_tuned.tokenizer, [p.context for p in test[:4]],
                                 PROFILE.nlg.max_new_tokens, seed=SEED, max_length=PROFILE.nlg.max_length)
    assert len(replies) == 4
    model, tokenizer = load_model(model_dir())  # saved for notebook 06
    assert len(tokenizer) == len(fine_tuned.tokenizer)
    config = fixed_budget(profile_config(PROFILE.nlg, seed=SEED), PROFILE.nlg.curve_epochs)
    curve = lc.CurveConfig(PROFILE.nlg.curve_sizes, PROFILE.nlg.seeds, PROFILE.nlg.curve_extra_per_real, SEED,
                           PROFILE.nlg.curve_reply_contexts)
    (size,) = curve.sizes
    made = {(size, lc.REAL, SEED): (fine_tuned.model, fine_tuned.tokenizer, result.steps)}  # measured, not retrained
    extra = {"real + augmented": {size: [replace(p, source="augmented") for p in dev]}}  # one run trains
    rows = lc.run_curve(base_model(), {size: train}, extra, dev, test, config, curve, tmp_path / "curve",
                        PROFILE.nlg.max_new_tokens, made=made, progress=False)
    assert [r["arm"] for r in rows] == [lc.REAL, "real + augmented"] and all(math.isfinite(r["test ppl"]) for r in rows)


@rehearses("06_chatbot")
def test_06_replies_streams_and_runs_a_retraining_round(support, fine_tuned, tmp_path):
    from heygen_lib.chat import DecodingConfig, load_chatbot, retraining_set
    from heygen_lib.chat.retrain import choose_step, pair_log_perplexities, paired_change, round_verdict
    from heygen_lib.nlg.finetune import FineTuneConfig, fine_tune, model_dir

    prepared, train, dev, test = support
    sizes = PROFILE.nlg
    bot = load_chatbot(model_dir(), DecodingConfig(max_new_tokens=sizes.max_new_tokens))
    assert bot.max_context_tokens > sizes.max_length  # distilgpt2's 1,024 positions
    reply = bot.reply("Here is the whole email thread: " + "Dear customer, thank you for your order. " * 80)
    assert reply.truncated_turns >= 0 and reply.new_tokens <= sizes.max_new_tokens
    assert "".join(bot.stream("Can I change the delivery address?")) == bot.last_reply.text
    rows = retraining_set(dev[:2], prepared.train, repeat=4, replay=BATCH, seed=SEED)  # 2 corrections, 1 batch
    config = FineTuneConfig(learning_rate=sizes.learning_rate / 10, max_steps=1, batch_size=sizes.batch_size,
                            max_length=sizes.max_length, early_stopping_patience=0, evals_per_epoch=1, seed=SEED)
    retrained = copy.deepcopy(bot.model)  # the round's two models side by side, as in the notebook
    result = fine_tune(retrained, bot.tokenizer, rows, dev, config, tmp_path / "retrain", progress=False)
    choice = choose_step(result.history)
    held_out = test[:4]
    before, after = (pair_log_perplexities(m, bot.tokenizer, held_out, sizes.max_length) for m in (bot.model, retrained))
    assert round_verdict(choice, paired_change(before, after, seed=SEED))


def test_every_notebook_is_rehearsed():
    """Each notebook has a rehearsal test, and each call it lists is in the notebook's code and in that test."""
    notebooks = {path.stem: path for path in (PROJECT_ROOT / "notebooks").glob("0*.ipynb")}
    assert sorted(REHEARSED) == sorted(notebooks) == sorted(_TESTS)
    missing = []
    for name, calls in REHEARSED.items():
        cells = json.loads(notebooks[name].read_text(encoding="utf-8"))["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        test = _source(globals()[_TESTS[name]])
        missing += [f"{name}: {call} ({where})" for call in calls for where, text in (("notebook", code),
                                                                                      ("rehearsal", test))
                    if not re.search(rf"\b{re.escape(call)}\(", text)]
    assert missing == []


def _source(function) -> str:
    """A test's source with that of the fixtures of this module it uses, and theirs."""
    function = getattr(function, "__wrapped__", function)
    used = [globals()[name] for name in inspect.signature(function).parameters if name in globals()]
    return "\n".join([inspect.getsource(function), *map(_source, used)])
