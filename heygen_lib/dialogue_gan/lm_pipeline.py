"""The dialogue GAN on a pretrained LM, step by step: the calls notebook 04 makes, and `ensure_reviewed_pairs`
(notebook 05's quick path) makes at a smaller size.

1. `mle_model`: the pretrained LM (`nlg.finetune.base_model`) fine-tuned by MLE on the real pairs (`nlg.finetune`);
2. `fit_pair_discriminator`: the GAN's discriminator on that model's features, held-out report per negative kind;
3. `adversarial_run`: a fresh copy of the MLE model trained by `lm_training` (or the teacher-forcing-only control);
4. `fit_judge`: the independent judge (MiniLM features, another seed, trained on the dev split);
5. `compare_runs`: MLE vs adversarial vs control over training seeds, scored by the judge and the MLE model;
6. `export_lm_candidates`, then `review_rule.rule_review` and `review.write_reviewed_pairs`.

Under torchrun (`build_reviewed_export` from ``python -m heygen_lib.dialogue_gan``) step 1 is data-parallel through
`Trainer`, step 3 through `lm_training`'s shards; step 2 repeats in every process (seeded, the same result in each:
every process needs the discriminator), and steps 4 and 6 run on rank 0 while the others wait. Only rank 0 writes.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from heygen_lib import distributed
from heygen_lib.augment.base import origin_key
from heygen_lib.augment.filters import apply_filters
from heygen_lib.data.dialogue import Turn
from heygen_lib.data.pair_files import save_pairs
from heygen_lib.data.pairs import Pair
from heygen_lib.dialogue_gan import lm_policy
from heygen_lib.dialogue_gan.export import ExportReport, ExportResult, ExportStep, default_filters, file_sha256
from heygen_lib.dialogue_gan.feature_discriminator import (EncoderPairFeatures, FeatureDiscriminator, LMPairFeatures,
                                                           accuracy_by_kind, featurize, fit_discriminator,
                                                           labelled_pairs)
from heygen_lib.dialogue_gan.lm_training import AdversarialLMConfig, AdversarialLMTrainer, train_adversarial_lm
from heygen_lib.dialogue_gan.review import candidate_key
from heygen_lib.dialogue_gan.review_rule import ReviewRule, lexicon_check
from heygen_lib.metrics import corpus_bleu, distinct_n
from heygen_lib.nlg import finetune
from heygen_lib.paths import artifacts_dir
from heygen_lib.profile import DialogueGanSizes
from heygen_lib.text import word_tokens

RECIPE = "dialogue_gan_recipe.json"


def lm_dir() -> Path:
    """Where the dialogue GAN keeps its LM artifacts: artifacts/dialogue_gan/lm."""
    return artifacts_dir() / "dialogue_gan" / "lm"


# --- 1. MLE ------------------------------------------------------------------------------------------------------

def mle_model(base: str | Path, train: Sequence[Pair], dev: Sequence[Pair], sizes: DialogueGanSizes, seed: int = 0,
              folder: str | Path | None = None, progress: bool = True) -> tuple[Path, finetune.FineTuneResult | None]:
    """The MLE-fine-tuned generator's folder: `base` fine-tuned on `train` (response-only loss, early stopping on
    `dev`; `nlg.finetune.fine_tune`). Reused when the folder already holds one made by the same recipe, the base's
    weights included (then the result is None)."""
    folder = Path(folder or lm_dir() / "mle")
    # a local base (the stand-in) is rebuilt in place when its own recipe changes: its weights say which one it is
    weights = Path(base) / "model.safetensors"
    recipe = {"base": str(base), "base_sha256": file_sha256(weights) if weights.is_file() else None,
              "epochs": sizes.lm_mle_epochs, "lr": sizes.lm_learning_rate, "seed": seed,
              "max_length": sizes.max_prompt + sizes.max_new_tokens,
              "pairs": hashlib.sha256(json.dumps([[p.dialogue_id, p.turn_index] for p in train]).encode()).hexdigest()}
    recipe_file = folder / RECIPE
    if recipe_file.is_file() and json.loads(recipe_file.read_text(encoding="utf-8")) == recipe:
        return folder, None
    model, tokenizer = finetune.load_model(base)
    config = finetune.FineTuneConfig(learning_rate=sizes.lm_learning_rate, epochs=sizes.lm_mle_epochs, seed=seed,
                                     max_length=recipe["max_length"], evals_per_epoch=2, early_stopping_patience=2)
    result = finetune.fine_tune(model, tokenizer, train, dev, config, folder / "run", progress=progress)

    def save() -> None:
        recipe_file.unlink(missing_ok=True)
        finetune.save_model(model, tokenizer, folder)
        recipe_file.write_text(json.dumps(recipe, indent=1), encoding="utf-8")

    distributed.on_main(save)  # under torchrun every process fine-tuned (Trainer split the batches); rank 0 saves
    return folder, result


def load_frozen(folder: str | Path):
    """(model, tokenizer) in eval mode with no gradients: the reference the KL and the features are measured with."""
    model, tokenizer = finetune.load_model(folder, device=distributed.device())
    return model.eval().requires_grad_(False), tokenizer


def generate_texts(model, tokenizer, contexts: Sequence[Sequence[Turn]], max_prompt: int, max_new_tokens: int,
                   temperature: float = 1.0, seed: int = 0, batch_size: int = 32, top_k: int = 0) -> list[str]:
    """One response per context (seeded), as text; batches get seeds seed, seed + 1, ... (`lm_policy.sample` says
    what `top_k` does)."""
    out = []
    for k, start in enumerate(range(0, len(contexts), batch_size)):
        prompts = lm_policy.encode_prompts(tokenizer, contexts[start : start + batch_size], max_prompt)
        out += lm_policy.decode(tokenizer, lm_policy.sample(model, tokenizer, prompts, max_new_tokens, temperature,
                                                            seed + k, top_k))
    return out


# --- 2. and 4. discriminators ----------------------------------------------------------------------------------

@dataclass
class FittedDiscriminator:
    """A trained pair discriminator, the features it trained on, its losses, and its accuracy by kind on its
    training pairs and on held-out pairs."""

    model: FeatureDiscriminator
    train_features: dict[str, torch.Tensor]
    losses: list[float]
    train_accuracy: dict[str, float]
    held_out_accuracy: dict[str, float]


def fit_pair_discriminator(features, train: Sequence[Pair], train_generated: Sequence[str], held_out: Sequence[Pair],
                           held_out_generated: Sequence[str], steps: int, seed: int = 0) -> FittedDiscriminator:
    """Train on `train` (real against generated, mismatched and reversed) and report accuracy per kind on both."""
    train_features = featurize(features, labelled_pairs(train, train_generated, seed))
    held_out_features = featurize(features, labelled_pairs(held_out, held_out_generated, seed + 1))
    model, losses = fit_discriminator(train_features, steps=steps, seed=seed)
    return FittedDiscriminator(model, train_features, losses, accuracy_by_kind(model, train_features),
                               accuracy_by_kind(model, held_out_features))


def lm_features(model, tokenizer, sizes: DialogueGanSizes) -> LMPairFeatures:
    return LMPairFeatures(model, tokenizer, sizes.max_prompt, sizes.max_new_tokens)


def judge_features() -> EncoderPairFeatures:
    """The independent judge's features: the shipped all-MiniLM-L6-v2 encoder (`heygen_lib.metrics`)."""
    from heygen_lib.metrics import default_encoder

    return EncoderPairFeatures(default_encoder())


# --- 3. adversarial runs -----------------------------------------------------------------------------------------

def adversarial_config(sizes: DialogueGanSizes, seed: int, control: bool = False, **changes) -> AdversarialLMConfig:
    """The profile's adversarial settings; `control`: the same updates with the reward off and teacher forcing on
    (and the discriminator frozen): what more MLE steps alone do."""
    config = AdversarialLMConfig(contexts_per_step=sizes.contexts_per_step,
                                 samples_per_context=sizes.samples_per_context, lr=sizes.lm_adversarial_lr,
                                 max_prompt=sizes.max_prompt, max_new_tokens=sizes.max_new_tokens, seed=seed)
    if control:
        config = replace(config, reward_weight=0.0, teacher_forcing=1.0, d_steps=0)
    return replace(config, **changes)


def adversarial_run(mle_folder: str | Path, reference, tokenizer, discriminator: FittedDiscriminator,
                    train: Sequence[Pair], config: AdversarialLMConfig, steps: int,
                    checkpoint: str | Path | None = None, callback=None, progress: bool = True,
                    ) -> AdversarialLMTrainer:
    """Train a fresh copy of the MLE model for `steps` steps against a copy of `discriminator` (resuming from
    `checkpoint` when it holds this config's run); returns the trainer (its `policy` and `history`)."""
    policy, _ = finetune.load_model(mle_folder, device=distributed.device())
    fixed = {k: v for k, v in discriminator.train_features.items() if k != "generated"}
    trainer = AdversarialLMTrainer(policy, reference, tokenizer, copy.deepcopy(discriminator.model), train, fixed,
                                   config, callback)
    if checkpoint is not None and Path(checkpoint).is_file():
        try:
            trainer.load(checkpoint)
        except ValueError:  # another config's checkpoint: start over
            pass
    train_adversarial_lm(trainer, max(0, steps - trainer.steps), checkpoint, progress=progress)
    return trainer


# --- 5. comparison -------------------------------------------------------------------------------------------------

def brevity_penalty(texts: Sequence[str], references: Sequence[str]) -> float:
    """BLEU's brevity penalty: exp(1 - r / c) when the c hypothesis words are fewer than the r reference words, else
    1. BLEU multiplies its n-gram precision by it, so shorter replies lose BLEU even with the same precision."""
    c = sum(len(word_tokens(t)) for t in texts)
    r = sum(len(word_tokens(t)) for t in references)
    return 1.0 if c > r else math.exp(1 - r / max(c, 1))


def response_metrics(texts: Sequence[str], pairs: Sequence[Pair], judge: FittedDiscriminator, judge_feats,
                     reference, tokenizer, sizes: DialogueGanSizes, train_responses: set[str]) -> dict[str, float]:
    """The comparison's numbers for responses to `pairs`' contexts: judge P(real) (mean), share judged real,
    perplexity under the MLE model, median length in words, BLEU-2, its brevity penalty and BLEU-2 / BP (the n-gram
    precision with the length effect taken out), distinct-2, and the share that copy a training response."""
    contexts = [p.context for p in pairs]
    references = [p.response.text for p in pairs]
    p_real = judge.model.probability(judge_feats(contexts, list(texts)))
    bleu, bp = corpus_bleu(texts, references, max_n=2).score, brevity_penalty(texts, references)
    return {
        "judge P(real)": float(p_real.mean()), "judged real": float((p_real > 0.5).float().mean()),
        "MLE perplexity": lm_policy.perplexity(reference, tokenizer, contexts, texts, sizes.max_prompt,
                                               sizes.max_new_tokens),
        "median words": float(statistics.median(len(t.split()) for t in texts)),
        "BLEU-2": bleu, "brevity penalty": bp, "BLEU-2 / BP": bleu / bp if bp > 0 else float("nan"),
        "distinct-2": distinct_n(texts, 2),
        "copies": float(np.mean([t.strip() in train_responses for t in texts])),
    }


def unseen_word_share(texts: Sequence[str], known: Sequence[str]) -> float:
    """The share of the words in `texts` (letters only: no numbers or punctuation) that occur in none of `known`.
    A small generator glues word pieces into non-words ("returnels"); real replies have a few unseen words too
    (names, typos), so compare with real held-out responses."""
    vocabulary = {w for text in known for w in word_tokens(text)}
    words = [w for text in texts for w in word_tokens(text) if w.isalpha()]
    return sum(w not in vocabulary for w in words) / len(words) if words else 0.0


def unseen_word_reading(generated: float, real: float) -> str:
    """One sentence on how the generated responses read, from their and real responses' `unseen_word_share`: more
    than twice the real share (and 2 points above it) counts as invented words."""
    said = (f"{generated:.0%} of the words in these generated responses occur nowhere in the training pairs (in "
            f"real held-out responses: {real:.0%})")
    if generated > max(2 * real, real + 0.02):
        return (said + ": many are invented words, so the replies do not read as language yet. The reward and the "
                "review can only choose among what the generator can write; notebook 05 measures whether such data "
                "helps anyway.")
    return said + ": about as many as in real replies, so the words are real; read a few rows for grammar and fit."


@dataclass(frozen=True)
class SeedComparison:
    """Per generator, the metrics of each training seed's run; mean and spread (std over seeds) on demand."""

    runs: dict[str, list[dict[str, float]]]  # generator -> one metrics dict per seed
    notes: dict[str, str]  # generator -> what its seeds vary

    def mean(self, name: str, metric: str) -> float:
        return float(np.mean([r[metric] for r in self.runs[name]]))

    def std(self, name: str, metric: str) -> float:
        values = [r[metric] for r in self.runs[name]]
        return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0

    def rows(self, digits: int = 3) -> list[dict[str, str]]:
        metrics = list(next(iter(self.runs.values()))[0])
        return [{"generator": name, "seeds": str(len(runs)),
                 **{m: f"{self.mean(name, m):.{digits}f}" + (f" ± {self.std(name, m):.{digits}f}" if len(runs) > 1
                                                             else "") for m in metrics}}
                for name, runs in self.runs.items()]


# Which way is better: +1 higher, -1 lower; "median words" and "BLEU-2" are read through length-free twins.
DIRECTIONS = {"judge P(real)": 1, "judged real": 1, "MLE perplexity": -1, "BLEU-2 / BP": 1, "distinct-2": 1,
              "copies": -1}


def difference(comparison: SeedComparison, metric: str, candidate: str, baseline: str) -> tuple[float, float]:
    """(candidate mean - baseline mean, the noise it is held against: twice the standard error of the difference
    from the seed spreads, sqrt(s_a^2 / n_a + s_b^2 / n_b))."""
    a, b = comparison.runs[candidate], comparison.runs[baseline]
    noise = math.sqrt(comparison.std(candidate, metric) ** 2 / len(a) + comparison.std(baseline, metric) ** 2 / len(b))
    return comparison.mean(candidate, metric) - comparison.mean(baseline, metric), 2 * noise


def verdict(comparison: SeedComparison, metric: str, candidate: str, baseline: str) -> str:
    """"better", "worse" or "no difference" (the difference within twice its standard error over seeds)."""
    diff, noise = difference(comparison, metric, candidate, baseline)
    if abs(diff) <= noise or diff == 0:
        return "no difference"
    return "better" if diff * DIRECTIONS[metric] > 0 else "worse"


def reading(comparison: SeedComparison, candidate: str, baseline: str) -> str:
    """One sentence per comparison, each metric placed by `verdict` with the noise it used."""
    parts = {"better": [], "worse": [], "no difference": []}
    for metric in [m for m in DIRECTIONS if m in comparison.runs[candidate][0]]:
        diff, noise = difference(comparison, metric, candidate, baseline)
        parts[verdict(comparison, metric, candidate, baseline)].append(f"{metric} ({diff:+.3f}, noise ±{noise:.3f})")
    listed = {k: ", ".join(v) if v else "nothing" for k, v in parts.items()}
    n = len(comparison.runs[candidate])
    return (f"{candidate} against {baseline} over {n} training seeds: better on {listed['better']}; worse on "
            f"{listed['worse']}; no difference (within twice the standard error over seeds) on "
            f"{listed['no difference']}.")


def claims(held_out: Mapping[str, float], held_out_pairs: int, comparison: SeedComparison) -> list[dict[str, str]]:
    """The two claims notebook 04 tests, each with a verdict computed from its numbers: the discriminator's held-out
    balanced accuracy against chance (binomial noise on `held_out_pairs`), and the adversarial runs against the
    teacher-forcing control on the judge and the MLE perplexity (twice the standard error over training seeds)."""
    acc = held_out["balanced"]
    noise = 2 * math.sqrt(acc * (1 - acc) / held_out_pairs)
    if acc - 0.5 > noise:
        filter_verdict = (f"supported: held-out balanced accuracy {acc:.3f} is above chance beyond its noise "
                          f"(±{noise:.3f}, {held_out_pairs} pairs)")
    else:
        filter_verdict = f"cannot tell at this size: held-out balanced accuracy {acc:.3f} is within ±{noise:.3f} of chance"
    seeds = len(comparison.runs["adversarial"])
    found = {m: verdict(comparison, m, "adversarial", "teacher forcing only") for m in ("judge P(real)", "MLE perplexity")}
    if all(v == "no difference" for v in found.values()):
        gan_verdict = ("cannot tell at this size: against the teacher-forcing control, no difference beyond twice the "
                       f"standard error over {seeds} training seeds on the judge or the perplexity")
    else:
        gan_verdict = "; ".join(f"{m}: {'no difference from' if v == 'no difference' else v + ' than'} the control "
                                f"(over {seeds} training seeds)" for m, v in found.items())
    return [{"claim": "a discriminator is a useful quality filter", "experiment": "section 3, held-out pairs by kind",
             "verdict": filter_verdict},
            {"claim": "adversarial training improves the generator",
             "experiment": "section 6, judge and MLE perplexity", "verdict": gan_verdict}]


# --- 6. export -----------------------------------------------------------------------------------------------------

# Exported replies are drawn from the 40 most likely tokens (as GPT-2's published samples were), not the whole
# softmax the policy trains on: the tail is where a small model's word pieces glue into non-words. Notebook 04
# (section 7) measures the share of invented words with and without the cut, against real replies. Adversarial
# training still samples the whole softmax.
EXPORT_TOP_K = 40


def export_lm_candidates(policy, tokenizer, train: Sequence[Pair], discriminator: FittedDiscriminator, features,
                         judge: FittedDiscriminator, judge_feats, reference, sizes: DialogueGanSizes, n: int,
                         keep: int, *, model: str, checkpoint: str | Path | None = None, seed: int = 0,
                         temperature: float = 1.0, top_k: int = EXPORT_TOP_K, path: str | Path) -> ExportResult:
    """Generate one response to each of `n` training contexts (cycling), drop unfinished ones and what notebook 02's
    filters reject, keep the best `keep` by the GAN's discriminator, and score the kept ones with the independent
    judge and the MLE model's perplexity (what the review rule reads). Each candidate carries its provenance.
    Candidates are drawn from the `top_k` most likely tokens (`EXPORT_TOP_K` says why)."""
    rng = np.random.default_rng(seed)
    rows = np.concatenate([rng.permutation(len(train)) for _ in range(n // len(train) + 1)])[:n]
    chosen = [train[i] for i in rows]
    prompts_contexts = [p.context for p in chosen]
    texts, finished = [], []
    for k, start in enumerate(range(0, n, 32)):
        prompts = lm_policy.encode_prompts(tokenizer, prompts_contexts[start : start + 32], sizes.max_prompt)
        out = lm_policy.sample(policy, tokenizer, prompts, sizes.max_new_tokens, temperature, seed + k, top_k)
        texts += lm_policy.decode(tokenizer, out)
        finished += (out.ids == tokenizer.eos_token_id).any(dim=1).tolist()
    alive = np.array(finished)
    steps = [ExportStep("unfinished", int((~alive).sum()), f"no end token within {sizes.max_new_tokens} tokens")]
    filters = default_filters([p.response.text for p in train], max_words=4 * sizes.max_new_tokens)
    index = np.flatnonzero(alive)
    mask, reports = apply_filters([texts[i] for i in index], [None] * len(index), filters)
    steps += [ExportStep(r.filter, r.dropped, r.threshold) for r in reports]
    index = index[mask]
    if not len(index):  # nothing to review: an empty export, which the review turns into an empty set
        return ExportResult([], ExportReport(n, steps, 0), save_pairs([], path))
    d_scores = discriminator.model.probability(features([prompts_contexts[i] for i in index],
                                                        [texts[i] for i in index])).numpy()
    best = np.argsort(-d_scores, kind="stable")[:keep]
    steps.append(ExportStep("rank", len(index) - len(best), f"beyond the best {keep} by the GAN's P(real)"))
    index, d_scores = index[best], d_scores[best]
    kept_contexts, kept_texts = [prompts_contexts[i] for i in index], [texts[i] for i in index]
    judge_scores = judge.model.probability(judge_feats(kept_contexts, kept_texts)).numpy()
    totals, counts = lm_policy.response_nll(reference, tokenizer, kept_contexts, kept_texts, sizes.max_prompt,
                                            sizes.max_new_tokens)
    ppl = torch.exp(totals / counts.clamp(min=1)).numpy()
    sha = file_sha256(checkpoint) if checkpoint and Path(checkpoint).is_file() else None
    candidates = []
    for rank, i in enumerate(index.tolist()):
        source = chosen[i]
        provenance = {
            "generator": model, "checkpoint": str(Path(checkpoint).name) if checkpoint else None,
            "checkpoint_sha256": sha, "seed": seed, "temperature": temperature, "top_k": top_k,
            "from": origin_key(source), "context_dialogue_id": source.dialogue_id, "rank": rank,
            "scores": {"discriminator": float(d_scores[rank]), "judge": float(judge_scores[rank]),
                       "mle_perplexity": float(ppl[rank])},
        }
        pair = replace(source, response=Turn(source.response.speaker, texts[i]), source="gan",
                       meta={"provenance": provenance})
        candidates.append(replace(pair, meta={**pair.meta, "candidate_key": candidate_key(pair)}))
    return ExportResult(candidates, ExportReport(n, steps, len(candidates)), save_pairs(candidates, path))


def real_perplexities(reference, tokenizer, pairs: Sequence[Pair], sizes: DialogueGanSizes) -> np.ndarray:
    """Each real response's perplexity under the MLE model given its context (the review rule's yardstick)."""
    totals, counts = lm_policy.response_nll(reference, tokenizer, [p.context for p in pairs],
                                            [p.response.text for p in pairs], sizes.max_prompt, sizes.max_new_tokens)
    return torch.exp(totals / counts.clamp(min=1)).numpy()


def real_judge_scores(judge: FittedDiscriminator, judge_feats, pairs: Sequence[Pair]) -> np.ndarray:
    """The judge's P(real) for real replies to their own contexts."""
    return judge.model.probability(judge_feats([p.context for p in pairs], [p.response.text for p in pairs])).numpy()


def review_rule_for(judge: FittedDiscriminator, judge_feats, reference, tokenizer, prepared,
                    sizes: DialogueGanSizes) -> ReviewRule:
    """The scripted reviewer calibrated on real held-out replies: the judge floor on the test split's real replies
    (the judge trained on dev), the perplexity ceiling on the dev split's (the MLE model never trained on them);
    words checked against the training pairs and WordNet."""
    return ReviewRule.calibrated(real_judge_scores(judge, judge_feats, prepared.test),
                                 real_perplexities(reference, tokenizer, prepared.dev, sizes),
                                 lexicon_check(turn.text for p in prepared.train for turn in (*p.context, p.response)))


# --- the whole pipeline, headless ------------------------------------------------------------------------------------

def build_reviewed_export(sizes: DialogueGanSizes, base: str | Path, seed: int = 0, progress: bool = False,
                          sample_shards: int = 1) -> Path:
    """MLE fine-tuning, the discriminator, one adversarial run (its contexts in `sample_shards` seeded shards), the
    judge, the export and the rule review, at `sizes`, on the support set's training pairs; writes and returns
    `review.reviewed_pairs_path()`. Under torchrun: see the module docstring for what is split and what rank 0 does
    alone."""
    from heygen_lib.data import prepare_pairs
    from heygen_lib.dialogue_gan.export import candidates_path
    from heygen_lib.dialogue_gan.review import review_store_path, reviewed_pairs_path

    prepared = prepare_pairs("support", seed=seed)
    pipeline = GanPaths(lm_dir(), candidates_path(), review_store_path(), reviewed_pairs_path())
    reviewed_export(sizes, base, prepared.train, prepared, pipeline, seed, progress, sample_shards)
    return reviewed_pairs_path()


@dataclass(frozen=True)
class GanPaths:
    """Where one run of the pipeline keeps its models and writes its candidates, decisions and reviewed pairs."""

    models: Path
    candidates: Path
    decisions: Path
    reviewed: Path

    @classmethod
    def under(cls, folder: str | Path) -> GanPaths:
        folder = Path(folder)
        return cls(folder / "lm", folder / "candidates.jsonl", folder / "review.jsonl", folder / "reviewed.jsonl")


def reviewed_export(sizes: DialogueGanSizes, base: str | Path, train: Sequence[Pair], prepared, paths: GanPaths,
                    seed: int = 0, progress: bool = False, sample_shards: int = 1) -> list[Pair]:
    """The pipeline on `train` alone (a subset of the training pairs, or all of them), judged and calibrated on
    `prepared`'s dev and test splits: returns the accepted pairs (empty when the rule accepts none). Stops with
    `DiscriminatorAtChance` when the discriminator cannot learn from `train`."""
    from heygen_lib.dialogue_gan.feature_discriminator import MIN_HELD_OUT_BALANCED, require_learned

    folder, _ = mle_model(base, train, prepared.dev, sizes, seed, folder=paths.models / "mle", progress=progress)
    reference, tokenizer = load_frozen(folder)
    features = lm_features(reference, tokenizer, sizes)

    def generated(pairs, s):
        return generate_texts(reference, tokenizer, [p.context for p in pairs], sizes.max_prompt,
                              sizes.max_new_tokens, seed=s)

    train_generated, dev_generated = generated(train, seed), generated(prepared.dev, seed + 1)
    discriminator = fit_pair_discriminator(features, train, train_generated, prepared.dev, dev_generated,
                                           sizes.d_fit_steps, seed)
    require_learned(discriminator.held_out_accuracy, MIN_HELD_OUT_BALANCED)
    checkpoint = paths.models / f"adversarial-seed{seed}.pt"
    trainer = adversarial_run(folder, reference, tokenizer, discriminator, train,
                              adversarial_config(sizes, seed, sample_shards=sample_shards),
                              sizes.lm_adversarial_steps, checkpoint, progress=progress)
    accepted: list[Pair] = []
    distributed.on_main(lambda: accepted.extend(_judge_export_review(
        trainer.policy, tokenizer, train, prepared, discriminator, features, reference, dev_generated,
        generated(prepared.test, seed + 2), sizes, base, checkpoint, seed, paths)))
    return accepted


def _judge_export_review(policy, tokenizer, train: Sequence[Pair], prepared, discriminator: FittedDiscriminator,
                         features, reference, dev_generated: Sequence[str], test_generated: Sequence[str],
                         sizes: DialogueGanSizes, base: str | Path, checkpoint: Path, seed: int,
                         paths: GanPaths) -> list[Pair]:
    """`reviewed_export`'s last steps: the independent judge, the export of candidates and the rule review."""
    from heygen_lib.dialogue_gan.review import ReviewStore, reviewed_pairs
    from heygen_lib.dialogue_gan.review_rule import rule_review

    judge_feats = judge_features()
    judge = fit_pair_discriminator(judge_feats, prepared.dev, dev_generated, prepared.test, test_generated,
                                   sizes.d_fit_steps, seed + 100)
    result = export_lm_candidates(policy, tokenizer, train, discriminator, features, judge, judge_feats, reference,
                                  sizes, sizes.lm_candidates, sizes.lm_keep,
                                  model=f"dialogue GAN: {Path(str(base)).name} MLE + adversarial",
                                  checkpoint=checkpoint, seed=seed, path=paths.candidates)
    store = ReviewStore(paths.decisions)
    rule_review(store, result.candidates, review_rule_for(judge, judge_feats, reference, tokenizer, prepared, sizes))
    accepted = reviewed_pairs(store, result.candidates)
    save_pairs(accepted, paths.reviewed)  # empty when the rule accepted none: notebook 05 then says so
    return accepted
