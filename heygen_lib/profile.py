"""Run profiles: one code path, two sizes, and a rehearsal of the larger one.

`smoke` is sized for 2 CPU cores (CI runs every notebook in it within minutes); `full` is sized for one GPU such as
a Colab T4 and gives meaningful results. `rehearsal` is the full profile's sizes and shapes with every count capped
(steps, epochs, samples, candidates, seeds), on local models of the full profile's architectures with random
weights (`heygen_lib.rehearsal`): the GPU path, run on a CPU in minutes, where its numbers mean nothing but its
code paths, shapes and memory are the real ones. The environment variable ``HEYGEN_PROFILE`` chooses (`smoke`,
`full`, `rehearsal`, or `auto`, the default: full when a CUDA GPU is present, smoke otherwise). Every module reads
its sizes from here.
"""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from heygen_lib.paths import PROJECT_ROOT
from heygen_lib.settings import SettingError

if TYPE_CHECKING:  # torch is imported where a device is asked for: the commands' --help never waits for it
    import torch

ENV_VAR = "HEYGEN_PROFILE"
REHEARSAL = "rehearsal"


@dataclass(frozen=True)
class DataSizes:
    """Sizes for loading and exploring corpora (notebook 01)."""

    max_dialogues: int | None = 400  # per corpus; None loads everything


@dataclass(frozen=True)
class AugmentSizes:
    """Sizes for augmentation (notebook 02)."""

    # Training pairs each candidate rewrites for the measured table (None: all; then the realism LM has seen them).
    # The selected candidates then rewrite every training pair for the pool.
    pairs: int | None = 120
    # Neural back-translation models (forward, backward), hub names or folders, measured beside the rule-based
    # Apertium round trip (offline, always there once installed); None: no neural back-translation.
    translation: tuple[str, str] | None = None


@dataclass(frozen=True)
class GanSizes:
    """Sizes for the text GANs (notebook 03). The oracle's sizes live in `heygen_lib.gan.oracle` (SMOKE and FULL)."""

    mle_epochs: int = 120  # SeqGAN's protocol pre-trains 120-150 epochs
    d_pretrain_steps: int = 2000  # most discriminator batches of pre-training (stops early once above the target)
    d_pretrain_target: float = 0.6  # held-out accuracy that ends discriminator pre-training (0.5 is chance)
    adversarial_steps: int = 200  # SeqGAN: generator updates, each with rollout rewards and fresh-negative D batches
    gumbel_steps: int = 2000  # Gumbel-softmax GAN updates (RelGAN trains thousands); beta reaches beta_max at the last
    gumbel_losses: tuple[str, ...] = ("rsgan", "standard", "hinge", "wgan-gp")  # losses trained on the small set
    rollouts: int = 16
    eval_samples: int = 10_000  # samples scored by the oracle at each evaluation
    eval_every: int = 20
    noise_repeats: int = 30  # evaluations of the same weights with fresh samples: the noise std to about +-30%
    large_train: int = 100_000  # the "large" real set: fresh oracle samples, too many to memorise
    text_vocab: int = 5000  # real text: word vocabulary (the sequence length is chosen from the data)
    text_mle_epochs: int = 60
    text_adversarial_steps: int = 100  # SeqGAN steps on real text (rollouts cost grows with the length squared)
    text_eval_samples: int = 500  # samples per real-text evaluation: table rows, noise repeats and sweeps alike
    text_noise_repeats: int = 8  # real-text evaluations of MLE's weights for the noise (Self-BLEU costs N^2)


@dataclass(frozen=True)
class DialogueGanSizes:
    """Sizes for the dialogue GAN (notebook 04): a conditional generator of responses and a pair discriminator."""

    vocab: int = 4000  # word vocabulary of contexts and responses (the support set has about 3,000 words)
    context_len: int = 64  # words of context the generator and discriminator see (the most recent ones)
    response_len: int = 48  # longest response in tokens, <eos> included (support answers: median 36 words)
    hidden: int = 256  # generator LSTM width and embedding size
    mle_epochs: int = 40  # upper bound: early stopping on dev NLL usually stops far sooner
    mle_patience: int = 3  # epochs without a better dev NLL before MLE stops
    d_pretrain_steps: int = 500
    adversarial_steps: int = 1000
    candidates: int = 2000  # pairs generated for the synthetic export
    keep: int = 500  # best-scoring pairs that go to review
    # The generator that feeds notebook 05: the pretrained causal LM (`nlg.finetune.base_model`), MLE-fine-tuned on
    # the real pairs, then trained adversarially (`dialogue_gan.lm_training`).
    lm_mle_epochs: float = 3  # MLE fine-tuning passes over the real pairs (early stopping on the dev loss)
    lm_learning_rate: float = 5e-5  # MLE fine-tuning peak learning rate
    lm_adversarial_lr: float = 1e-5  # the policy's learning rate in adversarial training
    max_prompt: int = 128  # prompt tokens (oldest context cut first)
    max_new_tokens: int = 64  # longest generated response in tokens
    d_fit_steps: int = 400  # discriminator classifier updates before adversarial training
    lm_adversarial_steps: int = 300
    contexts_per_step: int = 16
    samples_per_context: int = 4  # responses per context: the leave-one-out baseline
    training_seeds: tuple[int, ...] = (0, 1, 2)  # adversarial and control runs, one per seed
    eval_contexts: int | None = None  # held-out contexts in the comparison; None: all of the test split
    lm_candidates: int = 2000  # responses generated for the export
    lm_keep: int = 500  # best by the GAN's discriminator that go to review


@dataclass(frozen=True)
class NlgSizes:
    """Sizes for fine-tuning (notebook 05) and the chatbot (notebook 06)."""

    # hub name or folder; None: the small GPT-2 the kit ships (`nlg.standin`). HEYGEN_MODEL overrides it
    # (`nlg.finetune.base_model`).
    model: str | None = "distilgpt2"
    max_length: int = 256  # tokens per (context, response) row; the oldest context is cut first
    epochs: float = 5  # upper bound: early stopping on dev loss usually stops sooner
    batch_size: int = 16
    learning_rate: float = 5e-5
    patience: int = 3  # dev evaluations without a better dev loss before early stopping
    min_improvement: float = 0.0  # nats a dev loss must drop by to count as better (`early_stopping_threshold`)
    lr_scheduler: str = "linear"  # after warm-up: "linear" decay to 0, "cosine", or "constant"
    sgd_learning_rate: float = 1e-2  # plain SGD (no momentum) in the optimizer comparison wants a higher rate
    # The budget of the freezing and optimizer table: the optimizer steps of this many passes over the real pairs.
    knob_epochs: float = 3
    seeds: tuple[int, ...] = (0, 1, 2)  # fine-tuning seeds: the replies of each, and every point of the curve
    # The learning curve: real training pairs at each point (the last, the whole support split), made-up pairs added
    # per real pair, and the test contexts whose replies are compared with the real ones.
    curve_sizes: tuple[int, ...] = (40, 80, 170, 340, 689)
    curve_epochs: float = 3  # the budget rule: each run takes the steps of this many passes over its real pairs
    curve_extra_per_real: float = 1.0
    curve_reply_contexts: int = 88
    # The made-up data on the curve: its arms (real pairs plus one source's, or both), and the sizes that get a GAN
    # of their own (None: every size; the whole training split takes notebook 04's reviewed set).
    curve_arms: tuple[str, ...] = ("real + augmented", "real + GAN", "real + both")
    curve_gan_sizes: tuple[int, ...] | None = None
    # Longest reply, in tokens (the chatbot's default too). Real support replies run to about 31 words; a shorter cap
    # cuts many replies at the same place, and cut replies read as repeats.
    max_new_tokens: int = 48


@dataclass(frozen=True)
class Profile:
    """Everything that differs between a CI smoke run and a real GPU run."""

    name: str
    data: DataSizes
    augment: AugmentSizes
    gan: GanSizes
    dialogue_gan: DialogueGanSizes
    nlg: NlgSizes


PROFILES = {
    "smoke": Profile(
        "smoke",
        data=DataSizes(max_dialogues=400),
        augment=AugmentSizes(pairs=80),
        gan=GanSizes(mle_epochs=12, d_pretrain_steps=200, adversarial_steps=40, gumbel_steps=80,
                     gumbel_losses=("rsgan", "hinge"), rollouts=4,
                     eval_samples=1000, eval_every=20, noise_repeats=30, large_train=20_000, text_vocab=1000,
                     text_eval_samples=300, text_mle_epochs=8, text_adversarial_steps=4),
        dialogue_gan=DialogueGanSizes(vocab=1000, context_len=32, response_len=20, hidden=128, mle_epochs=4,
                                      mle_patience=2, d_pretrain_steps=100, adversarial_steps=40, candidates=160,
                                      keep=40, lm_mle_epochs=3, lm_learning_rate=1e-3, lm_adversarial_lr=1e-4,
                                      max_prompt=96, max_new_tokens=48, d_fit_steps=300, lm_adversarial_steps=12,
                                      contexts_per_step=6, samples_per_context=4, eval_contexts=40,
                                      lm_candidates=240, lm_keep=60),
        # The shipped stand-in fine-tunes best at 1e-3 with linear decay: over 3 seeds and all 88 test contexts,
        # every seed met the reply targets (notebooks/results/stand_in_sweep.md); 3e-3 constant met them in 1 of 3.
        nlg=NlgSizes(model=None, max_length=128, epochs=3, batch_size=16, learning_rate=1e-3, patience=2,
                     min_improvement=0.05,
                     sgd_learning_rate=5e-2, knob_epochs=0.25, seeds=(0, 1, 2), curve_sizes=(40, 170, 689),
                     curve_epochs=1, curve_reply_contexts=24,
                     # a GAN of its own costs 40-50 s per size on 2 CPU cores: only the whole split's (notebook
                     # 04's set, free) here; GANs at the smaller sizes and the "both" arm are left to full
                     curve_arms=("real + augmented", "real + GAN"), curve_gan_sizes=(689,)),
    ),
    "full": Profile(
        "full",
        data=DataSizes(max_dialogues=None),
        augment=AugmentSizes(pairs=400, translation=("Helsinki-NLP/opus-mt-en-de", "Helsinki-NLP/opus-mt-de-en")),
        gan=GanSizes(),
        dialogue_gan=DialogueGanSizes(),
        nlg=NlgSizes(),
    ),
}


# The rehearsal's models, hub name -> folder: the full profile's architectures with random weights, built by
# `heygen_lib.rehearsal` (``python -m heygen_lib.rehearsal``) into the kit's artifacts (a cache, shared by every run).
REHEARSAL_MODELS = {name: PROJECT_ROOT / "artifacts" / "rehearsal" / name
                    for name in ("distilgpt2", "opus-mt-en-de", "opus-mt-de-en")}

# Epochs that plan one optimizer step: `nlg.finetune.planned_steps` rounds any positive budget up to one step.
ONE_STEP = 1e-9


def rehearsal_of(full: Profile) -> Profile:
    """`full` with every count capped and its hub models replaced by local stand-ins of the same architecture.

    A count is how many times a loop runs (steps, epochs, samples, candidates, evaluations, seeds, data sizes) and
    is capped; a shape (batch sizes, sequence lengths, vocabularies, widths, rollouts, which run as one batch) is
    the full profile's own, never typed again here. Full-only choices stay on (all four Gumbel losses, every corpus
    dialogue: loading them takes seconds). Capped data sizes keep one full batch: 32 pairs for back-translation,
    16 real pairs (one fine-tuning batch) for the learning curve."""
    return replace(
        full, name=REHEARSAL,
        augment=replace(full.augment, pairs=32,
                        translation=(str(REHEARSAL_MODELS["opus-mt-en-de"]), str(REHEARSAL_MODELS["opus-mt-de-en"]))),
        gan=replace(full.gan, mle_epochs=1, d_pretrain_steps=1, adversarial_steps=1, gumbel_steps=1, eval_every=1,
                    eval_samples=1000, noise_repeats=2, text_noise_repeats=2, large_train=640, text_mle_epochs=1,
                    text_adversarial_steps=1),
        dialogue_gan=replace(full.dialogue_gan, mle_epochs=1, d_pretrain_steps=1, adversarial_steps=1, candidates=32,
                             keep=8, lm_mle_epochs=ONE_STEP, d_fit_steps=2, lm_adversarial_steps=1,
                             training_seeds=(0,), eval_contexts=16, lm_candidates=32, lm_keep=8),
        nlg=replace(full.nlg, model=str(REHEARSAL_MODELS["distilgpt2"]), epochs=ONE_STEP, knob_epochs=ONE_STEP,
                    seeds=(0,), curve_sizes=(16,), curve_epochs=ONE_STEP, curve_reply_contexts=4),
    )


PROFILES[REHEARSAL] = rehearsal_of(PROFILES["full"])


# What to lower first when a free Colab session is too short for a notebook's full profile, the largest share of its
# predicted T4 time first (`benchmarks/full_profile_budget.py`; its predictions:
# notebooks/results/full_profile_budget.md).
SHORT_SESSION = {
    "01": "",  # minutes on a T4
    "02": "N_PAIRS = 200 (back-translation is most of its GPU time)",
    "03": "SIZES = replace(SIZES, gumbel_losses=('rsgan',), gumbel_steps=1000) (the Gumbel-softmax runs are most of "
          "it)",
    "04": "SIZES = replace(SIZES, lm_adversarial_steps=100) (the adversarial runs are most of it; keep the three "
          "training seeds: they are the comparison's noise)",
    "05": "CURVE = replace(CURVE, sizes=(40, 170, 689)) (the learning curve and its GAN runs are most of it; keep "
          "its seeds: they are the exchange rate's noise), then CONFIG = replace(CONFIG, epochs=3)",
    "06": "",  # minutes on a T4
}


def short_session(notebook: str) -> str:
    """The line a notebook's parameters cell prints: what to lower if its full profile outlasts a Colab session."""
    advice = SHORT_SESSION[notebook]
    if not advice:
        return "full profile on a Colab T4: minutes, nothing to lower"
    return f"full profile too long for a free Colab session? First set {advice}"


class ProfileError(SettingError):
    """``HEYGEN_PROFILE`` names no profile: one line in Jupyter and at the command line, as every `SettingError`."""


def active_profile() -> Profile:
    """The profile named by ``HEYGEN_PROFILE``, or the automatic choice for this machine."""
    name = os.environ.get(ENV_VAR, "auto").strip().lower() or "auto"
    if name == "auto":
        import torch

        name = "full" if torch.cuda.is_available() else "smoke"
    if name not in PROFILES:
        choices = ", ".join([*PROFILES, "auto"])
        raise ProfileError(f"{ENV_VAR}={os.environ[ENV_VAR]!r} is not a profile; choose one of: {choices}")
    if name == REHEARSAL and not all((folder / "config.json").is_file() for folder in REHEARSAL_MODELS.values()):
        raise ProfileError("the rehearsal's models are not built yet: `python -m heygen_lib.rehearsal` builds them "
                           "(about a minute)")
    return PROFILES[name]


def device() -> torch.device:
    """The device models run on: the GPU when there is one."""
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def native_bf16() -> bool:
    """Whether the GPU computes in bfloat16 natively: compute capability 8.0 and later (Ampere, Hopper), or ROCm.
    ``torch.cuda.is_bf16_supported()`` also says yes on a Colab T4 (7.5), which can only *store* bfloat16 and does
    its maths in fp32, slower than fp16 on its tensor cores: there the kit's "auto" precision is fp16."""
    import torch

    if not torch.cuda.is_available():
        return False
    return bool(torch.version.hip) or torch.cuda.get_device_capability()[0] >= 8


def environment_report(profile: Profile | None = None) -> str:
    """A few lines to print at the top of every notebook: profile, versions, device."""
    import ipywidgets
    import torch
    import transformers

    profile = profile or active_profile()
    dev = device()
    if dev.type == "cuda":
        hardware = f"GPU {torch.cuda.get_device_name(0)}"
    else:
        hardware = f"CPU, {torch.get_num_threads()} threads"
    how = "set by " + ENV_VAR if os.environ.get(ENV_VAR, "auto").lower() != "auto" else "chosen automatically"
    lines = [
        f"profile      {profile.name} ({how}; set {ENV_VAR}=smoke|full to change)",
        f"device       {dev.type}: {hardware}",
        f"python       {platform.python_version()} ({sys.platform})",
        f"torch        {torch.__version__}",
        f"transformers {transformers.__version__}",
        f"ipywidgets   {ipywidgets.__version__}",
    ]
    if profile.name == REHEARSAL:
        lines.insert(1, "models       full shapes, random weights: numbers mean nothing, paths and memory do")
    return "\n".join(lines)
