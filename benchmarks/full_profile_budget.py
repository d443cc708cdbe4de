"""Memory and time of each notebook in the full profile on a Colab T4: predicted from its shapes and counts, with
the memory of each notebook's largest step measured on this CPU as a check.

    python benchmarks/full_profile_budget.py               # measure, print, write notebooks/results/full_profile_budget.md
                                                           # and the README's "T4 (predicted)" column
    python benchmarks/full_profile_budget.py --no-measure  # the computed columns only (seconds, no model runs)

**Memory.** Parameters and optimizer state follow from the models (AdamW: two fp32 moments; with mixed precision also
fp32 weights and gradients: 16 bytes per trained parameter). The largest step's activations are computed from its
shapes (per layer, per token, Korthikanti et al. 2022, "Reducing activation recomputation", section 4.1, without the
attention matrix: PyTorch's SDPA kernels do not store it) plus the logits over GPT-2's 50,260-token vocabulary, kept
only where a loss reads them (the response's positions). As a check the same step runs here at the same shapes, on
the rehearsal models (`heygen_lib.rehearsal`), in a fresh process whose resident-memory high-water mark is reset
before the step.

**Time.** Every notebook's work is counted from the full profile (`heygen_lib.profile.PROFILES["full"]`) and the
support set's real sizes: training and forward FLOPs (2 x parameters per token forward, 3x that with backward),
generation steps, the small GAN's steps, checkpoint writes, and CPU work; then turned into T4 seconds with the
throughputs in `T4`, each with its source. A prediction, not a measurement: no GPU was lent to this work.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from heygen_lib.profile import PROFILES, SHORT_SESSION  # noqa: E402
from heygen_lib.run_notebooks import write_readme_column  # noqa: E402

FULL = PROFILES["full"]
RESULTS = HERE.parent / "notebooks" / "results" / "full_profile_budget.md"
GIB = 2**30


@dataclass(frozen=True)
class T4:
    """A Colab T4 and the throughputs the predictions assume, with their sources."""

    memory_gib: float = 15.0  # 16 GB GDDR6 (NVIDIA T4 datasheet); Colab shows 15,360 MiB, the CUDA context takes ~0.4
    limit_gib: float = 14.0  # a step predicted above this is flagged: fragmentation and the allocator's cache need room
    fp16_peak: float = 65e12  # "mixed precision (FP16/FP32) 65 TFLOPS", NVIDIA T4 datasheet
    fp32_peak: float = 8.1e12  # "single precision 8.1 TFLOPS", NVIDIA T4 datasheet
    # Published training throughput: GPT-2 124M in fp32 on Kaggle's 2 x T4, 7,400 tokens/s (ducto489.github.io,
    # "Using TPU to speedup and recreate GPT-2 result"): 3,700 tokens/s per T4 x 6 x 124M + attention = 3.2 TFLOPS,
    # 39% of the fp32 peak.
    fp32: float = 3.2e12
    # Mixed precision on the tensor cores: 2.5x the fp32 rate assumed (NVIDIA quotes up to 3x for training), i.e.
    # 12% of the fp16 peak: small matrices (768 wide) and the Trainer's overheads keep it far below the peak.
    fp16: float = 8.0e12
    # One `generate` step of a 6-layer model, host-bound: Hugging Face GPT-2 124M (12 layers) decodes one token per
    # 12.2 ms on a V100 in a plain forward loop (microsoft.github.io/batch-inference, GPT completion: 6,400 tokens in
    # 78.04 s); half the layers, plus generate's logits processors and Colab's slower host: 8 ms. Marian's decoder
    # layers also attend to the source: 10 ms.
    gpt2_step_s: float = 0.008
    marian_step_s: float = 0.010
    # The text GANs' small LSTMs are host-bound too: seconds per step from the full-profile run of notebook 03 on an
    # H100 (notebooks/results/03_text_gans_full.md: MLE 120 epochs of 157 batches in 85.7 s; SeqGAN 200 steps in
    # 18.4 s, Gumbel 1,000 in 63.8 s, each with one discriminator batch), plus the extra discriminator batches of
    # today's recipes (`seqgan_fast`: 4, `relgan_fast`: 3). A T4 is not faster than an H100 at host-bound work.
    mle_batch_s: float = 0.0045
    seqgan_step_s: float = 0.092 + 3 * 0.0045
    gumbel_step_s: float = 0.064 + 2 * 0.0045
    oracle_eval_s: float = 0.3  # 10,000 samples of 20 tokens over a 5,000-word softmax, and their NLLs
    # A checkpoint of distilgpt2 (330 MB) written at every dev evaluation by Trainer; Colab's disk about 150 MB/s.
    checkpoint_s: float = 2.5
    session_h: float = 3.0  # a free Colab session: "a few hours", ends earlier when idle; a notebook above is flagged


T4_ASSUMED = T4()


# --- the models --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Transformer:
    """What the time and memory formulas need of a model: its size and shape."""

    name: str
    params: int  # all parameters (tied embeddings once)
    matmul_params: int  # parameters each token passes through (the LM head counted: it is the embedding, tied)
    layers: int
    width: int
    vocab: int


def gpt2() -> Transformer:
    """distilgpt2 with the dialogue format's 3 tokens added (50,260 rows)."""
    from heygen_lib.rehearsal import DISTILGPT2

    h, layers, vocab = DISTILGPT2["n_embd"], DISTILGPT2["n_layer"], DISTILGPT2["vocab_size"] + 3
    blocks = layers * (12 * h * h + 13 * h)  # attention 4h^2, MLP 8h^2, biases and norms
    params = blocks + vocab * h + DISTILGPT2["n_positions"] * h + 2 * h
    return Transformer("distilgpt2", params, blocks + vocab * h, layers, h, vocab)


def marian() -> Transformer:
    """opus-mt-en-de (and de-en): the decoder's matrices and the output layer per generated token."""
    from heygen_lib.rehearsal import OPUS_MT

    d, ffn, vocab = OPUS_MT["d_model"], OPUS_MT["encoder_ffn_dim"], OPUS_MT["vocab_size"]
    encoder = OPUS_MT["encoder_layers"] * (4 * d * d + 2 * d * ffn)
    decoder = OPUS_MT["decoder_layers"] * (8 * d * d + 2 * d * ffn)
    return Transformer("opus-mt", encoder + decoder + vocab * d, decoder + vocab * d, OPUS_MT["decoder_layers"], d,
                       vocab)


def activation_bytes(model: Transformer, rows: int, tokens: int, bytes_per: int, logits_bytes: int) -> float:
    """Activations kept for backward by one training step of `rows` x `tokens`: per layer and token 34 h bytes in
    16-bit (Korthikanti et al., without the attention matrix), 66 h in fp32 (the 2-byte terms doubled, the 1-byte
    dropout masks not); plus the logits, `logits_bytes` per entry (see `Step`)."""
    per_token = (34 if bytes_per == 2 else 66) * model.width * model.layers
    return rows * tokens * (per_token + model.vocab * logits_bytes)


# --- the data --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Data:
    """The support set's sizes in pairs and in distilgpt2-sized tokens (the rehearsal tokenizer: GPT-2's vocabulary
    size, merges learned from the kit's corpora), and the longest training rows (the largest batch)."""

    train: int
    dev: int
    test: int
    row_tokens: float  # mean tokens per fine-tuning row (context + response)
    longest_row: int
    response_tokens: float
    context_words: float
    longest_batch_scored: int  # scored positions (response and end token) in the batch of the longest rows


def support_data() -> Data:
    import statistics

    from heygen_lib.augment.selection import target_texts
    from heygen_lib.data import prepare_pairs
    from heygen_lib.nlg.finetune import load_model
    from heygen_lib.nlg.rows import IGNORE, encode_pairs
    from heygen_lib.rehearsal import causal_lm_dir, ensure_models

    ensure_models()
    prepared = prepare_pairs("support", seed=0)
    _, tokenizer = load_model(causal_lm_dir(), device="cpu")
    rows, _ = encode_pairs(tokenizer, prepared.train, FULL.nlg.max_length)
    lengths = [len(r["input_ids"]) for r in rows]
    longest = sorted(rows, key=lambda r: len(r["input_ids"]))[-FULL.nlg.batch_size:]
    return Data(len(prepared.train), len(prepared.dev), len(prepared.test), statistics.fmean(lengths), max(lengths),
                statistics.fmean(len(tokenizer(p.response.text)["input_ids"]) for p in prepared.train),
                statistics.fmean(len(t.split()) for t in target_texts(prepared.train, "context")),
                sum(sum(label != IGNORE for label in r["labels"]) for r in longest))


# --- the work of each notebook ---------------------------------------------------------------------------------------

@dataclass
class Work:
    """One notebook's counted work and what it costs on a T4."""

    notebook: str
    largest_step: str
    step_rows: int = 0
    step_tokens: int = 0
    trained: str = ""  # which model the largest step trains
    scored_positions: int = 0  # positions of the largest step projected onto the vocabulary; 0: all of them
    mixed_precision: bool = True
    train_tokens: float = 0.0  # tokens through forward and backward
    forward_tokens: float = 0.0  # tokens through forward only (evaluation, features, perplexity)
    fp32_train_tokens: float = 0.0  # the same, without autocast (the dialogue GAN's policy and reference)
    fp32_forward_tokens: float = 0.0
    gpt2_steps: int = 0  # generate steps of distilgpt2
    marian_steps: int = 0
    gan_seconds: float = 0.0  # the text GANs' host-bound steps
    checkpoints: int = 0
    cpu_seconds: float = 0.0  # work on the host: corpora, augmenters, n-gram models, Apertium
    notes: list[str] = field(default_factory=list)

    def seconds(self, t4: T4 = T4_ASSUMED) -> dict[str, float]:
        g = gpt2()
        flops = 2 * g.matmul_params
        return {"training (fp16)": (3 * self.train_tokens + self.forward_tokens) * flops / t4.fp16,
                "training (fp32)": (3 * self.fp32_train_tokens + self.fp32_forward_tokens) * flops / t4.fp32,
                "generation": self.gpt2_steps * t4.gpt2_step_s + self.marian_steps * t4.marian_step_s,
                "text GANs": self.gan_seconds, "checkpoints": self.checkpoints * t4.checkpoint_s,
                "CPU": self.cpu_seconds}


def fine_tune_runs(work: Work, data: Data, steps: int, evals: int, runs: int = 1, gen_contexts: int = 0,
                   perplexity_pairs: int = 0) -> None:
    """`runs` Trainer runs of `steps` optimizer steps (full batches of mean-length rows), each with `evals` dev
    evaluations (each writing a checkpoint), greedy replies to `gen_contexts` contexts and a perplexity on
    `perplexity_pairs` pairs."""
    nlg = FULL.nlg
    work.train_tokens += runs * steps * nlg.batch_size * data.row_tokens
    work.forward_tokens += runs * evals * data.dev * data.row_tokens
    work.fp32_forward_tokens += runs * perplexity_pairs * data.row_tokens
    work.gpt2_steps += runs * math.ceil(gen_contexts / nlg.batch_size) * nlg.max_new_tokens
    work.checkpoints += runs * evals


def steps_and_evals(rows: int, epochs: float, evals_per_epoch: int = 4) -> tuple[int, int]:
    from heygen_lib.nlg.finetune import FineTuneConfig, planned_steps, steps_per_epoch

    config = FineTuneConfig(batch_size=FULL.nlg.batch_size, epochs=epochs, evals_per_epoch=evals_per_epoch)
    total = planned_steps(rows, config)
    every = min(total, max(1, steps_per_epoch(rows, config) // evals_per_epoch))
    return total, total // every + 1  # + the evaluation before training


def dialogue_gan_pipeline(work: Work, data: Data, pairs: int, seeds: int, comparison: bool) -> None:
    """Notebook 04's LM pipeline on `pairs` real training pairs: MLE, generation for the discriminator, its
    features, `seeds` adversarial runs, the judge and the export; with `comparison` (the notebook, not the
    headless `reviewed_export`) also a teacher-forcing control per seed and the comparison over seeds."""
    sizes = FULL.dialogue_gan
    steps, evals = steps_and_evals(pairs, sizes.lm_mle_epochs, evals_per_epoch=2)
    fine_tune_runs(work, data, steps, evals)
    batches = lambda n: math.ceil(n / 32)  # generate_texts and the export sample 32 contexts at a time
    prompt_plus = sizes.max_prompt / 2 + data.response_tokens  # real contexts fill about half the prompt budget
    work.gpt2_steps += (batches(pairs) + batches(data.dev) + 2 * batches(data.test)) * sizes.max_new_tokens
    work.fp32_forward_tokens += 4 * (pairs + data.dev) * prompt_plus  # features of 4 kinds of pair, both splits
    runs = (2 if comparison else 1) * seeds
    step_rows = sizes.contexts_per_step * sizes.samples_per_context
    step_tokens = sizes.max_prompt + sizes.max_new_tokens
    per_step = step_rows * step_tokens
    work.fp32_train_tokens += runs * sizes.lm_adversarial_steps * per_step
    work.fp32_forward_tokens += runs * sizes.lm_adversarial_steps * 2 * per_step  # the reference and D's features
    work.gpt2_steps += runs * sizes.lm_adversarial_steps * sizes.max_new_tokens
    if comparison:  # MLE, adversarial and control over the seeds on the test split; the unseen-word probe
        work.gpt2_steps += 3 * seeds * batches(data.test) * sizes.max_new_tokens
        work.fp32_forward_tokens += 3 * seeds * data.test * prompt_plus
        work.gpt2_steps += 2 * seeds * batches(sizes.lm_keep) * sizes.max_new_tokens
    work.gpt2_steps += batches(sizes.lm_candidates) * sizes.max_new_tokens  # the export
    work.fp32_forward_tokens += 2 * sizes.lm_keep * prompt_plus


def notebook_work(data: Data, cpu: dict[str, float]) -> list[Work]:
    """The full profile's counted work of every notebook (see each block's comments)."""
    nlg, gan, dgan, aug = FULL.nlg, FULL.gan, FULL.dialogue_gan, FULL.augment
    works = []

    w = Work("01_dialogue_data", "loading and cleaning every dialogue (CPU)")
    w.cpu_seconds = cpu["01"]
    works.append(w)

    w = Work("02_augmentation", "MarianMT: 32 contexts, up to 128 tokens, both directions", 32, 128, "none (inference)")
    # back-translation: the context table (`pairs`), the response table, the pools over every training pair (when
    # the rule selects it) and the seed-1 repeat; steps of the longest translation in each batch of 32, both ways
    context_steps, response_steps = 100, 60  # about 1.3 tokens per word, the longest of 32 texts (context: 47 words)
    for texts, steps in ((aug.pairs, context_steps), (aug.pairs, response_steps), (data.train, context_steps),
                         (data.train, response_steps), (aug.pairs, context_steps)):
        w.marian_steps += 2 * math.ceil(texts / 32) * steps
    w.cpu_seconds = cpu["02"]
    w.notes.append("upper bound: back-translation written into both pools, as when the rule selects it")
    works.append(w)

    w = Work("03_text_gans", "oracle evaluation: 10,000 samples x 20 tokens, 5,000-word softmax", gan.eval_samples, 20,
             "LSTM generator (oracle)", mixed_precision=False)
    from heygen_lib.gan.oracle import FULL as ORACLE

    batches = math.ceil(ORACLE.n_train / 64)
    mle_like = 3 * gan.mle_epochs * batches  # LSTM, Transformer and VAE generators
    evals = gan.mle_epochs // gan.eval_every + gan.noise_repeats + 2
    seqgan = 2 * (gan.adversarial_steps * T4_ASSUMED.seqgan_step_s + gan.adversarial_steps // gan.eval_every)
    gumbel_runs = len(gan.gumbel_losses) + 1  # every loss on the small set, RSGAN on the large one too
    evals += 2 * (gan.adversarial_steps // gan.eval_every) + gumbel_runs * (gan.gumbel_steps // gan.eval_every)
    evals += 4 * 5  # temperature sweeps: 4 generators x 5 temperatures
    w.gan_seconds = (mle_like * T4_ASSUMED.mle_batch_s + seqgan + gumbel_runs * gan.gumbel_steps
                     * T4_ASSUMED.gumbel_step_s + evals * T4_ASSUMED.oracle_eval_s
                     + gan.text_mle_epochs * math.ceil(data.train / 64) * T4_ASSUMED.mle_batch_s
                     + gan.text_adversarial_steps * 2 * T4_ASSUMED.seqgan_step_s)
    works.append(w)

    w = Work("04_dialogue_gan", "adversarial step: 16 contexts x 4 samples, 128 + 64 tokens, fp32",
             dgan.contexts_per_step * dgan.samples_per_context, dgan.max_prompt + dgan.max_new_tokens,
             "distilgpt2 policy (AdamW, fp32)", mixed_precision=False)
    dialogue_gan_pipeline(w, data, data.train, len(dgan.training_seeds), comparison=True)
    works.append(w)

    w = Work("05_fine_tuning", f"Trainer step: {nlg.batch_size} rows x {data.longest_row} tokens (the longest rows)",
             nlg.batch_size, data.longest_row, "distilgpt2 (AdamW, fp16 autocast)",
             scored_positions=data.longest_batch_scored)
    steps, evals = steps_and_evals(data.train, nlg.epochs)
    # pretrained, random init, the other seeds, and the saved main run (the base is a hub model, not the stand-in)
    fine_tune_runs(w, data, steps, evals, runs=2 + (len(nlg.seeds) - 1) + 1, gen_contexts=data.test,
                   perplexity_pairs=data.test)
    w.gpt2_steps += 2 * math.ceil(data.test / nlg.batch_size) * nlg.max_new_tokens  # untuned base, plain greedy
    gan_sizes = nlg.curve_gan_sizes or nlg.curve_sizes
    for size in nlg.curve_sizes:  # the learning curve: its arms x seeds, fixed budgets without dev evaluations
        arms = 1 + sum(size in gan_sizes or arm == "real + augmented" for arm in nlg.curve_arms)  # GAN data: own sizes
        steps, _ = steps_and_evals(size, nlg.curve_epochs)
        fine_tune_runs(w, data, steps, 0, runs=arms * len(nlg.seeds), gen_contexts=nlg.curve_reply_contexts,
                       perplexity_pairs=data.test)
    steps, _ = steps_and_evals(data.train, nlg.knob_epochs)
    fine_tune_runs(w, data, steps, 0, runs=4, gen_contexts=data.test, perplexity_pairs=data.test)  # knobs
    for size in gan_sizes[:-1]:  # the GAN pipeline again on smaller real sets (`gan_pairs_by_size`)
        dialogue_gan_pipeline(w, data, size, seeds=1, comparison=False)
    w.notes.append("upper bound: every run to its planned steps (early stopping ends most sooner)")
    works.append(w)

    w = Work("06_chatbot", f"retraining step: {nlg.batch_size} rows x {nlg.max_length} tokens",
             nlg.batch_size, nlg.max_length, "distilgpt2 (AdamW, fp16 autocast)",
             scored_positions=data.longest_batch_scored)
    retrain_steps, replay = 200, 1000  # the notebook's parameters cell in the full profile
    rows = 4 * 6 + replay
    fine_tune_runs(w, data, retrain_steps, math.ceil(retrain_steps / math.ceil(rows / nlg.batch_size)) + 1)
    w.gpt2_steps += (6 + 4 * 3 + 8 + 20 + 8) * nlg.max_new_tokens  # script, decoding table, feedback, test replies
    w.gpt2_steps += 4 * 3 * nlg.max_new_tokens  # beam search (4 beams) costs about as much per step again
    w.fp32_forward_tokens += 2 * (data.test + data.dev) * data.row_tokens * 2  # perplexities before and after
    works.append(w)
    return works


# --- memory ----------------------------------------------------------------------------------------------------------

def computed_memory(work: Work) -> dict[str, float]:
    """GiB: weights, optimizer state (gradients and AdamW moments; fp32 master copies count as weights) and the
    largest step's activations, from the shapes."""
    if work.notebook == "01_dialogue_data":
        return {}
    if work.notebook == "02_augmentation":
        m = marian()
        weights = 2 * m.params * 4  # both directions loaded, fp32 weights (autocast computes in half)
        cache = work.step_rows * work.step_tokens * m.layers * 4 * m.width * 2  # self- and cross-attention K, V
        return {"weights": weights / GIB, "optimizer": 0.0,
                "activations": (cache + work.step_rows * m.vocab * 4 * 2) / GIB}
    if work.notebook == "03_text_gans":
        from heygen_lib.gan.oracle import FULL as ORACLE

        logits = work.step_rows * ORACLE.vocab_size * 4 * 3  # one step's logits, softmax and sample, fp32
        return {"weights": 0.0, "optimizer": 0.0, "activations": logits / GIB}
    g = gpt2()
    if work.mixed_precision:  # Trainer with fp16 autocast: fp32 weights and gradients, AdamW's two moments
        # logits at the scored positions only (`hf_training.ScoredPositions`): fp16 (2) and their fp32 copy for the
        # loss (4), its log-softmax (4) and that one's gradient (4)
        acts = activation_bytes(g, work.step_rows, work.step_tokens, 2, 0) + work.scored_positions * g.vocab * 14
        return {"weights": g.params * (4 + 2) / GIB, "optimizer": g.params * 12 / GIB, "activations": acts / GIB}
    # the adversarial step, fp32 throughout: logits (4) at the response's positions only (`lm_policy.forward` keeps
    # T + 1), their log-softmax (4) and its gradient (4), the logits' gradient (4); a frozen fp32 reference model
    # beside the policy
    acts = activation_bytes(g, work.step_rows, work.step_tokens, 4, 0)
    acts += work.step_rows * (FULL.dialogue_gan.max_new_tokens + 1) * g.vocab * (4 + 4 + 4 + 4)
    return {"weights": 2 * g.params * 4 / GIB, "optimizer": g.params * 12 / GIB, "activations": acts / GIB}


def _rss_kib(field_name: str) -> int:
    return int(re.search(rf"{field_name}:\s+(\d+)", Path("/proc/self/status").read_text()).group(1))


def _step_peak(step, optimizer=None) -> tuple[float, float]:
    """(GiB resident before `step`, GiB it added at its peak). The optimizer's state is allocated first by a step
    on zero gradients (no forward pass: that would double the cost), then the high-water mark is reset."""
    if optimizer is not None:
        for group in optimizer.param_groups:
            for parameter in group["params"]:
                parameter.grad = parameter.detach().new_zeros(parameter.shape)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)  # gradients are made again in the measured backward
    before = _rss_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM (Linux)
    step()
    return before / 2**20, (_rss_kib("VmHWM") - before) / 2**20


def _measured_update(loss, optimizer, start_kib: int, shape: str) -> dict[str, float | str]:
    """One optimizer update (`loss()`, backward, step) measured by `_step_peak`: the resident memory it starts from
    above `start_kib` (weights and optimizer state), what it adds at its peak, and its CPU seconds."""

    def step():
        loss().backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    started = time.process_time()
    before, peak = _step_peak(step, optimizer)
    return {"shape": shape, "weights+optimizer": before - start_kib / 2**20, "activations": peak,
            "cpu_s": time.process_time() - started}


def measure_finetune_step(rows_wanted: int, max_length: int) -> dict[str, float]:
    """One Trainer-equivalent step (fine-tuning's loss on the scored positions, backward, AdamW) on the
    `rows_wanted` longest training rows, on the distilgpt2-shaped rehearsal model, fp32 on this CPU."""
    import torch

    from heygen_lib.data import prepare_pairs
    from heygen_lib.nlg.finetune import load_model
    from heygen_lib.nlg.hf_training import batch_loss, loss_on_scored_positions
    from heygen_lib.nlg.rows import collator_for, encode_pairs
    from heygen_lib.rehearsal import causal_lm_dir

    start = _rss_kib("VmRSS")
    model, tokenizer = load_model(causal_lm_dir(), device="cpu")
    rows, _ = encode_pairs(tokenizer, prepare_pairs("support", seed=0).train, max_length)
    settings = loss_on_scored_positions(model, collator_for(tokenizer))
    batch = settings["data_collator"](sorted(rows, key=lambda r: -len(r["input_ids"]))[:rows_wanted])
    model.train()
    return _measured_update(lambda: batch_loss(model, batch, settings.get("compute_loss_func")),
                            torch.optim.AdamW(model.parameters(), lr=1e-5), start, f"{tuple(batch['input_ids'].shape)}")


def measure_adversarial_step() -> dict[str, float]:
    """The dialogue GAN's policy update at its full shape (`lm_policy.forward` and `token_log_probs`, the library's
    own, on 16 x 4 rows of 128 prompt and 64 response tokens, every response token kept), with the frozen reference
    beside it; fp32, as on the GPU."""
    import torch

    from heygen_lib.dialogue_gan import lm_policy
    from heygen_lib.nlg.finetune import load_model
    from heygen_lib.rehearsal import causal_lm_dir

    sizes = FULL.dialogue_gan
    rows = sizes.contexts_per_step * sizes.samples_per_context
    start = _rss_kib("VmRSS")
    policy, tokenizer = load_model(causal_lm_dir(), device="cpu")
    reference, _ = load_model(causal_lm_dir(), device="cpu")
    reference.eval().requires_grad_(False)
    generator = torch.Generator().manual_seed(0)
    prompts = lm_policy.Prompts(torch.randint(len(tokenizer), (rows, sizes.max_prompt), generator=generator),
                                torch.ones(rows, sizes.max_prompt, dtype=torch.long))
    responses = lm_policy.Responses(torch.randint(len(tokenizer), (rows, sizes.max_new_tokens), generator=generator),
                                    torch.ones(rows, sizes.max_new_tokens, dtype=torch.bool))
    policy.eval()  # as `AdversarialLMTrainer`: no dropout in the log-probabilities

    def loss():
        with torch.no_grad():
            reference_logp = lm_policy.token_log_probs(lm_policy.forward(reference, prompts, responses).logits,
                                                       responses)
        log_probs = lm_policy.token_log_probs(lm_policy.forward(policy, prompts, responses).logits, responses)
        return -(log_probs - reference_logp).sum(dim=1).mean()

    return _measured_update(loss, torch.optim.AdamW(policy.parameters(), lr=1e-5), start,
                            f"({rows}, {sizes.max_prompt + sizes.max_new_tokens})")


def measure_translation_batch() -> dict[str, float]:
    """One batch of 32 training contexts through both rehearsal Marian models (`BackTranslator.round_trip`)."""
    import random

    from heygen_lib.augment.backtranslate import BackTranslationConfig, BackTranslator
    from heygen_lib.augment.selection import target_texts
    from heygen_lib.data import prepare_pairs
    from heygen_lib.rehearsal import translator_dirs

    start = _rss_kib("VmRSS")
    forward, backward = translator_dirs()
    translator = BackTranslator(BackTranslationConfig(forward=str(forward), backward=str(backward), device="cpu"))
    texts = target_texts(prepare_pairs("support", seed=0).train[:32], "context")
    started = time.process_time()
    before, peak = _step_peak(lambda: translator.round_trip(texts, random.Random(0)))
    return {"shape": "(32, <=128)", "weights+optimizer": before - start / 2**20, "activations": peak,
            "cpu_s": time.process_time() - started}


def measure_oracle_evaluation() -> dict[str, float]:
    """One evaluation of the full oracle benchmark (`oracle_metrics`, 10,000 samples) of a fresh generator."""
    import tempfile

    from heygen_lib.gan.evaluation import oracle_metrics
    from heygen_lib.gan.generators import LSTMGenerator, LSTMGeneratorConfig
    from heygen_lib.gan.oracle import FULL as ORACLE
    from heygen_lib.gan.oracle import oracle_benchmark

    start = _rss_kib("VmRSS")
    oracle, train, test = oracle_benchmark(ORACLE, folder=Path(tempfile.mkdtemp()) / "oracle")
    metrics = oracle_metrics(oracle, test, n_samples=FULL.gan.eval_samples, train_data=train)
    generator = LSTMGenerator(LSTMGeneratorConfig(ORACLE.vocab_size, ORACLE.max_len, ORACLE.start_token)).eval()
    started = time.process_time()
    before, peak = _step_peak(lambda: metrics(generator))
    return {"shape": f"({FULL.gan.eval_samples}, {ORACLE.max_len})", "weights+optimizer": before - start / 2**20,
            "activations": peak, "cpu_s": time.process_time() - started}


def measure_corpora() -> dict[str, float]:
    """Notebook 01's loading and cleaning of every dialogue: CPU seconds and memory."""
    import warnings

    from heygen_lib.data import CORPORA, clean_dialogues, load_corpus

    start, started = _rss_kib("VmRSS"), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cleaned = {name: clean_dialogues(load_corpus(name, limit=None)) for name in CORPORA}
    assert cleaned
    return {"shape": "every dialogue", "weights+optimizer": 0.0, "activations": (_rss_kib("VmHWM") - start) / 2**20,
            "cpu_s": time.process_time() - started}


MEASUREMENTS = {"01_dialogue_data": (measure_corpora,), "02_augmentation": (measure_translation_batch,),
                "03_text_gans": (measure_oracle_evaluation,), "04_dialogue_gan": (measure_adversarial_step,),
                "05_fine_tuning": (measure_finetune_step, FULL.nlg.batch_size, FULL.nlg.max_length),
                "06_chatbot": (measure_finetune_step, FULL.nlg.batch_size, FULL.nlg.max_length)}


def measure_all(notebooks: list[str]) -> dict[str, dict]:
    """Each notebook's largest step in a fresh process (06's step is 05's: measured once)."""
    from measuring import in_fresh_process

    os.environ["MALLOC_MMAP_THRESHOLD_"] = "65536"  # freed tensors go back to the system: RSS follows live memory
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    done: dict[tuple, dict] = {}
    out = {}
    for name in notebooks:
        key = MEASUREMENTS[name]
        if key not in done:
            done[key] = in_fresh_process(*key)
            print(f"  measured {name}: {done[key]}", flush=True)
        out[name] = done[key]
    return out


# --- the table -------------------------------------------------------------------------------------------------------

def predictions(data: Data, cpu: dict[str, float], measured: dict[str, dict] | None = None) -> list[dict]:
    """One row per notebook: memory (computed; measured on this CPU when given), time on a T4, and the flags."""
    rows = []
    for work in notebook_work(data, cpu):
        memory = computed_memory(work)
        parts = work.seconds()
        total = sum(parts.values())
        peak = sum(memory.values())
        flags = []
        if peak > T4_ASSUMED.limit_gib:
            flags.append(f"peak {peak:.1f} GiB > {T4_ASSUMED.limit_gib:g} GiB")
        if total > T4_ASSUMED.session_h * 3600:
            flags.append(f"{total / 3600:.1f} h > a {T4_ASSUMED.session_h:g} h free session")
        row = {"notebook": work.notebook, "largest step": work.largest_step, **{f"{k} GiB": v for k, v in
                                                                                memory.items()},
               "peak GiB": peak, "tokens trained": work.train_tokens + work.fp32_train_tokens,
               "tokens forward": work.forward_tokens + work.fp32_forward_tokens,
               "generate steps": work.gpt2_steps + work.marian_steps, **{f"{k} s": v for k, v in parts.items()},
               "T4 h": total / 3600, "flags": "; ".join(flags) or "-", "notes": "; ".join(work.notes)}
        if measured and work.notebook in measured:
            m = measured[work.notebook]
            row |= {"measured shape": m["shape"], "measured weights+optimizer GiB (fp32, CPU)": m["weights+optimizer"],
                    "measured step GiB (fp32, CPU)": m["activations"], "measured CPU s": m["cpu_s"]}
        rows.append(row)
    return rows


def readme_column(rows: list[dict]) -> dict[str, str]:
    """The README table's "T4 (predicted)" cell of each notebook."""
    return {r["notebook"][:2]: f"≈ {_duration(r['T4 h'])}, "
            + (f"peak {r['peak GiB']:.1f} GiB" if r["peak GiB"] else "no GPU memory") + " (predicted)" for r in rows}


def _duration(hours: float) -> str:
    return f"{hours:.1f} h" if hours >= 1 else f"{max(1, round(hours * 60))} min"


def _count(key: str, value):
    """Whole tokens, steps and seconds with thousands separators; hours to two decimals; text as it is."""
    if isinstance(value, str):
        return value
    return f"{value:.2f}" if key == "T4 h" else f"{value:,.0f}"


def markdown(rows: list[dict], data: Data, command: str, when: str) -> str:
    from heygen_lib.tables import markdown_table

    memory = [{k: v for k, v in r.items() if k in ("notebook", "largest step", "weights GiB", "optimizer GiB",
                                                     "activations GiB", "peak GiB")
               or k.startswith("measured")} for r in rows]
    time_rows = [{k: _count(k, v) for k, v in r.items() if k == "notebook" or k.endswith(" s") and k != "measured CPU s"
                  or k in ("tokens trained", "tokens forward", "generate steps", "T4 h", "flags")} for r in rows]
    t4 = T4_ASSUMED
    return "\n".join([
        "# Full profile on a Colab T4: memory and time, predicted",
        "",
        f"`{command}` ({when}). **No GPU was lent to this work: nothing here was measured on a GPU.** The memory",
        "check runs each notebook's largest step on this machine's CPU, in fp32, at the full profile's shapes, on",
        "the rehearsal models (the full architectures with random weights, `heygen_lib/rehearsal.py`); times are",
        "predicted from counted work and the T4 throughputs below.",
        "",
        f"Data: support set {data.train} / {data.dev} / {data.test} pairs (train / dev / test), fine-tuning rows of "
        f"{data.row_tokens:.0f} tokens on average (longest {data.longest_row}), replies of "
        f"{data.response_tokens:.0f} tokens.",
        "",
        "## Memory of each notebook's largest step (GiB)",
        "",
        markdown_table(memory, digits=2),
        "",
        "Computed: weights (fp32; with autocast also their fp16 copies), optimizer state (fp32 gradients and AdamW's",
        "two moments), activations kept for backward (34 h bytes per layer and token in 16-bit, 66 h in fp32;",
        "Korthikanti et al. 2022 without the attention matrix, which SDPA does not store) plus the logits over",
        "50,260 tokens at the positions a loss reads (the response's; context positions are never projected).",
        "Measured, in a fresh process on this CPU, fp32 everywhere: resident memory",
        "before the step (weights and AdamW's moments, allocated by a step on zero gradients; the 02 and 03 rows: the",
        "models and data) and what the step added at its peak (its activations and gradients: an upper bound for",
        "autocast's 16-bit activations, about equal for the dialogue GAN's fp32 step).",
        "",
        "## Time on a T4 (seconds per kind of work; hours in total)",
        "",
        markdown_table(time_rows),
        "",
        f"Throughputs assumed: mixed-precision training {t4.fp16 / 1e12:g} TFLOPS (2.5x the published fp32 rate; "
        f"peak {t4.fp16_peak / 1e12:g}), fp32 {t4.fp32 / 1e12:g} TFLOPS (GPT-2 124M on a T4: 3,700 tokens/s, "
        f"ducto489.github.io; peak {t4.fp32_peak / 1e12:g}, NVIDIA T4 datasheet); a distilgpt2 generate step "
        f"{t4.gpt2_step_s * 1e3:g} ms, a Marian one {t4.marian_step_s * 1e3:g} ms (GPT-2 124M: 12.2 ms per token on a "
        f"V100, microsoft.github.io/batch-inference); the text GANs' steps as measured on an H100 "
        f"(`notebooks/results/03_text_gans_full.md`); a checkpoint {t4.checkpoint_s:g} s; CPU work as measured here. "
        "Each figure is good to about a factor of two; the ordering and the flags are what to read.",
        "",
        "## What to lower when a session is too short",
        "",
        *[f"- **{r['notebook']}**: {SHORT_SESSION[r['notebook'][:2]] or 'nothing: minutes'}" for r in rows],
        "",
    ])




def cpu_work(measured: dict[str, dict] | None) -> dict[str, float]:
    """CPU seconds of the host work: notebook 01 as measured (or 10 s); notebook 02's augmenters, n-gram LMs and
    MiniLM on the CPU path, about 4 CPU-s per measured pair in the rehearsal (8 minutes at 400 + 689 pairs)."""
    corpora = measured["01_dialogue_data"]["cpu_s"] if measured and "01_dialogue_data" in measured else 10.0
    return {"01": corpora + 30.0, "02": 480.0}  # 01: + the plots, widgets and kernel start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-measure", action="store_true", help="skip the CPU measurements (seconds, not minutes)")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"the results file (default {RESULTS.name})")
    args = parser.parse_args(argv)
    data = support_data()
    notebooks = [w.notebook for w in notebook_work(data, cpu_work(None))]
    measured = None if args.no_measure else measure_all(notebooks)
    rows = predictions(data, cpu_work(measured), measured)
    for row in rows:
        print(row)
    write_readme_column("T4 (predicted)", readme_column(rows))
    print("README column written:", readme_column(rows))
    command = "python benchmarks/full_profile_budget.py" + (" --no-measure" if args.no_measure else "")
    when = time.strftime("%Y-%m-%d") + f", {os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f}"
    args.out.write_text(markdown(rows, data, command, when), encoding="utf-8")
    print("written", args.out)


if __name__ == "__main__":
    main()
