"""Adversarial fine-tuning of a pretrained causal LM: REINFORCE with the pair discriminator's probability as reward,
a baseline, and a KL penalty that keeps the policy near the MLE-fine-tuned model.

For a context x the policy pi_theta writes y = (y_1 .. y_T). The discriminator gives the reward R(x, y) = D(x, y),
its probability that the pair is real. The objective is the reward minus a KL penalty to the MLE model pi_ref::

    J(theta) = E_{y ~ pi_theta}[ R(x, y) ] - beta * KL(pi_theta(.|x) || pi_ref(.|x))

and its score-function (REINFORCE) gradient, with the KL estimated on the sample itself::

    grad J = E[ (R(x, y) - b(x) - beta * k(x, y)) * sum_t grad log pi_theta(y_t | x, y_<t) ]
    k(x, y) = sum_t [ log pi_theta(y_t | x, y_<t) - log pi_ref(y_t | x, y_<t) ]    (its mean over samples is the KL)

The baseline b(x) does not depend on the sample, so it leaves the gradient unbiased and lowers its variance:
``"context_mean"`` draws K responses per context and uses, for each, the mean reward of the *other* K - 1
(leave-one-out); ``"moving_average"`` uses a running mean of past rewards. Sums run over response tokens only (the
mask); context tokens are given, never scored.

**Per-token credit: the per-sequence reward.** Every token of a response shares its advantage. Monte-Carlo rollouts
(SeqGAN, Li et al.'s REGS) would credit each prefix separately, at the price of about `rollouts x T` extra
generations per sample: with a transformer on CPU that is hundreds of times the cost of a step. The discriminator
judges whole responses anyway, and the per-context baseline over K samples removes most of the variance rollouts
would. `heygen_lib.gan.rewards` has the rollout version for the unconditional GANs of notebook 03.

Optional **teacher forcing** adds ``teacher_forcing * NLL`` of the real responses to the same update;
``reward_weight=0`` with teacher forcing is the control that gets the same updates without the reward.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import trange

from heygen_lib import distributed
from heygen_lib.adversarial_state import check_finite, guarded_update, restore_trainer_state, save_trainer
from heygen_lib.dialogue_gan import lm_policy
from heygen_lib.dialogue_gan.feature_discriminator import (FeatureDiscriminator, LMPairFeatures,
                                                           discriminator_loss)
from heygen_lib.gan.data_parallel import DataParallel, shard_seed

Record = dict[str, float | int | str]
BASELINES = ("context_mean", "moving_average")


@dataclass
class AdversarialLMConfig:
    """How the LM trains adversarially. Defaults: a small learning rate (it starts from a good model and policy
    gradients are noisy), 4 samples per context for the leave-one-out baseline, a KL weight that lets the policy
    move a little."""

    contexts_per_step: int = 8  # contexts per update
    samples_per_context: int = 4  # K responses per context (the context-mean baseline needs K >= 2)
    baseline: str = "context_mean"  # "context_mean" (leave-one-out over the K samples) or "moving_average"
    baseline_decay: float = 0.9  # moving average: b <- decay * b + (1 - decay) * mean reward
    kl_coef: float = 0.05  # beta: weight of the KL penalty to the MLE model, in the advantage
    reward_weight: float = 1.0  # 0 turns the reward (and its KL term) off: the teacher-forcing-only control
    teacher_forcing: float = 0.0  # weight of the NLL of the real responses added to each update
    lr: float = 1e-4  # the policy's learning rate (AdamW)
    d_lr: float = 1e-3  # the discriminator's classifier
    d_steps: int = 1  # discriminator updates per step, on these samples against real pairs (0: frozen)
    clip: float = 1.0  # gradient-norm clipping
    max_prompt: int = 128  # prompt tokens (oldest context cut first)
    max_new_tokens: int = 40  # longest response in tokens
    seed: int = 0
    sample_shards: int = 1  # seeded shards of each batch of contexts: runs on any process count dividing it agree

    def __post_init__(self) -> None:
        if self.baseline not in BASELINES:
            raise ValueError(f"baseline must be one of {BASELINES}, got {self.baseline!r}")
        if self.baseline == "context_mean" and self.samples_per_context < 2:
            raise ValueError("the context-mean baseline needs samples_per_context >= 2 (it leaves one out)")
        if min(self.kl_coef, self.reward_weight, self.teacher_forcing, self.d_steps) < 0:
            raise ValueError("kl_coef, reward_weight, teacher_forcing and d_steps must be >= 0")
        if self.sample_shards < 1 or self.contexts_per_step % self.sample_shards:
            raise ValueError(f"sample_shards {self.sample_shards} must divide contexts_per_step "
                             f"{self.contexts_per_step} (each shard takes whole contexts with all their samples)")


def leave_one_out_baseline(rewards: torch.Tensor, k: int) -> torch.Tensor:
    """For rewards [B * K] (K samples per context, consecutive), each sample's baseline: the mean reward of the other
    K - 1 samples of its context. It never includes the sample itself, so it stays independent of it."""
    grouped = rewards.view(-1, k)
    return ((grouped.sum(dim=1, keepdim=True) - grouped) / (k - 1)).view(-1)


def sequence_kl(log_probs: torch.Tensor, ref_log_probs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """k(x, y) = sum over response tokens of log pi - log pi_ref, per sample: [B] (no gradient)."""
    return ((log_probs - ref_log_probs) * mask).sum(dim=1).detach()


def policy_gradient_loss(log_probs: torch.Tensor, mask: torch.Tensor, rewards: torch.Tensor,
                         baseline: torch.Tensor | float, kl: torch.Tensor, kl_coef: float) -> torch.Tensor:
    """REINFORCE with a baseline and a KL penalty (module docstring):
    ``-mean_b (R_b - b_b - beta * k_b) * sum_t mask * log pi(y_t)``.

    log_probs [B, T] with gradients, mask [B, T] (True on response tokens), rewards [B], kl [B] the per-sample
    `sequence_kl` (computed once by the caller, which also reports it). The advantage is a constant: descending this
    loss raises the log-probability of samples that beat their baseline (after the KL charge) and lowers the others;
    masked positions (padding, and no context token ever appears here) contribute nothing.
    """
    mask = mask.to(log_probs.dtype)
    advantage = (rewards.to(log_probs) - baseline - kl_coef * kl.to(log_probs)).detach()
    return -(advantage * (log_probs * mask).sum(dim=1)).mean()


@dataclass
class _Shard:
    """One shard's contexts, its K samples per context and what the frozen models said of them (no gradients)."""

    index: int  # which shard of the global batch: it seeds the samples and the discriminator's dropout
    pairs: list  # its contexts' pairs
    prompts: lm_policy.Prompts  # [C, P]: one row per context
    repeated: lm_policy.Prompts  # [C * K, P]: each context K times in a row
    samples: lm_policy.Responses  # [C * K, T]
    ref_log_probs: torch.Tensor  # [C * K, T] under the reference
    fake: torch.Tensor  # [C * K, F] the samples' discriminator features
    rewards: torch.Tensor  # [C * K] D's P(real) per sample


class AdversarialLMTrainer:
    """Trains `policy` (a causal LM, starting as a copy of the MLE model `reference`) against a discriminator on
    `reference`'s features. `real_features` (kind -> feature rows of the training pairs: "real" and the fixed
    negatives "mismatched", "reversed") feed the discriminator's updates beside the fresh generated samples.

    Each `step` returns a record and sends it to `callback`; `save` / `load` resume bit for bit (sampling seeds are
    derived from the config seed and the step number).

    Under torchrun (`heygen_lib.distributed`) every process runs the same trainer through one seam,
    `gan.data_parallel.DataParallel` (``self.parallel``), which hands back what it is given in one process: every
    process draws the same global batch of contexts (one shared seeded generator) and works on its own
    `sample_shards` / N shards of it; a context's K samples, their rewards and their leave-one-out baseline stay
    inside the shard that drew them. Losses are means over the global batch (the seam averages the processes'
    gradients before each optimiser step), records are averaged over processes, and only rank 0 writes the
    checkpoint, which holds no trace of the process count."""

    def __init__(self, policy, reference, tokenizer, discriminator: FeatureDiscriminator, train_pairs: Sequence,
                 real_features: Mapping[str, torch.Tensor], config: AdversarialLMConfig = AdversarialLMConfig(),
                 callback: Callable[[Record], None] | None = None):
        self.policy, self.reference, self.tokenizer = policy, reference, tokenizer
        self.discriminator, self.train_pairs, self.config, self.callback = discriminator, list(train_pairs), config, callback
        self.real_features = dict(real_features)
        if config.sample_shards % distributed.world_size():
            raise ValueError(f"sample_shards {config.sample_shards} must be a multiple of the "
                             f"{distributed.world_size()} processes (each takes the same number of shards)")
        self.reference.eval().requires_grad_(False)
        self.features = LMPairFeatures(reference, tokenizer, config.max_prompt, config.max_new_tokens)
        self.device = next(policy.parameters()).device
        # The one seam to several processes: in one process every call to it hands back what it was given.
        self.parallel = DataParallel(config.seed, config.contexts_per_step, config.sample_shards, self.device)
        self.parallel.share_weights(policy, discriminator)
        self.optimizers = {
            "policy": torch.optim.AdamW([p for p in policy.parameters() if p.requires_grad], lr=config.lr,
                                        weight_decay=0.0),
            "discriminator": torch.optim.Adam(discriminator.parameters(), lr=config.d_lr),
        }
        self.data_rng = torch.Generator().manual_seed(config.seed)
        self.steps = 0
        self.moving_baseline: float | None = None
        self.history: list[Record] = []

    def _seed(self, shard: int) -> int:
        """The seed of `shard`'s samples (and of its discriminator dropout) at this step. One shard keeps the seed
        single-process runs have always used, so notebook 04's numbers do not move; several mix (seed, step, shard)."""
        if self.config.sample_shards == 1:
            return self.config.seed * 1_000_003 + self.steps
        return shard_seed(self.config.seed, self.steps, shard)

    def _baseline(self, rewards: torch.Tensor, mean_reward: float) -> torch.Tensor:
        if self.config.baseline == "context_mean":
            return leave_one_out_baseline(rewards, self.config.samples_per_context)
        value = self.moving_baseline if self.moving_baseline is not None else mean_reward
        return torch.full_like(rewards, value)

    @torch.no_grad()
    def _draw(self, index: int, pairs: list) -> _Shard:
        """Shard `index`: K seeded samples per context, the reference's log-probabilities, features and rewards."""
        cfg = self.config
        prompts = lm_policy.encode_prompts(self.tokenizer, [p.context for p in pairs], cfg.max_prompt)
        repeated = prompts.repeat(cfg.samples_per_context)
        samples = lm_policy.sample(self.policy, self.tokenizer, repeated, cfg.max_new_tokens, 1.0,
                                   seed=self._seed(index))
        ref_out = lm_policy.forward(self.reference, repeated, samples, hidden=True)
        ref_log_probs = lm_policy.token_log_probs(ref_out.logits, samples)
        contexts = [p.context for p in pairs for _ in range(cfg.samples_per_context)]  # as `repeat` orders them
        fake = self.features.from_output(ref_out, repeated, samples, contexts)
        return _Shard(index, pairs, prompts, repeated, samples, ref_log_probs, fake,
                      self.discriminator.probability(fake))

    def step(self) -> Record:
        """One policy update (and `d_steps` discriminator updates): see the module docstring."""
        cfg = self.config
        pairs = self._contexts()
        shards = self._draw_shards(pairs)  # K samples per context, scored by the reference and the discriminator
        mean_reward = self._mean_reward(shards)
        baselines = [self._baseline(s.rewards, mean_reward).to(self.device) for s in shards]
        loss, parts = self._policy_loss(shards, baselines, self._response_tokens(pairs))
        self._update("policy", loss, self.policy, cfg.clip)
        self.moving_baseline = mean_reward if self.moving_baseline is None else (
            cfg.baseline_decay * self.moving_baseline + (1 - cfg.baseline_decay) * mean_reward)
        d_values = {}
        for _ in range(cfg.d_steps):
            d_values = self.discriminator_step(shards)
        teacher = {"teacher_nll": parts["teacher_nll"]} if cfg.teacher_forcing > 0 else {}
        lengths = torch.cat([s.samples.lengths for s in shards]).float().mean()
        return self._record(**teacher, reward=mean_reward, baseline=torch.cat(baselines).mean(), kl=parts["kl"],
                            policy_loss=parts["policy_loss"], length=lengths, **d_values)

    def _policy_loss(self, shards: Sequence[_Shard], baselines: Sequence[torch.Tensor],
                     response_tokens: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The policy's loss on the batch (the module docstring's): the mean policy-gradient loss over samples plus
        `teacher_forcing` times the NLL per real response token; also its parts, for the record."""
        cfg = self.config
        self.policy.eval()  # the policy that sampled: no dropout in its log-probabilities
        pg, kls, teacher = [], [], torch.zeros((), device=self.device)
        for shard, baseline in zip(shards, baselines):
            log_probs = lm_policy.token_log_probs(lm_policy.forward(self.policy, shard.repeated, shard.samples).logits,
                                                  shard.samples)
            mask = shard.samples.mask.to(log_probs.device)
            kl = sequence_kl(log_probs, shard.ref_log_probs.to(log_probs.device), mask)
            pg.append(policy_gradient_loss(log_probs, mask, shard.rewards.to(log_probs.device), baseline, kl,
                                           cfg.kl_coef))
            kls.append(kl)
            if cfg.teacher_forcing > 0:
                real = lm_policy.encode_responses(self.tokenizer, [p.response.text for p in shard.pairs],
                                                  cfg.max_new_tokens)
                real_logp = lm_policy.token_log_probs(lm_policy.forward(self.policy, shard.prompts, real).logits, real)
                teacher = teacher - self.parallel.part_of_sum(real_logp.sum() / response_tokens)
        pg_loss = torch.stack(pg).mean()  # shards are equal: the mean of their means is the mean over samples
        loss = cfg.reward_weight * pg_loss + cfg.teacher_forcing * teacher
        return loss, {"policy_loss": pg_loss.detach(), "kl": torch.cat(kls).mean(), "teacher_nll": teacher.detach()}

    def discriminator_step(self, shards: Sequence[_Shard]) -> dict[str, float]:
        """One update of the discriminator on the generated feature rows of `shards`. Each shard's generated rows
        meet as many real training pairs and half as many fixed mismatched and reversed negatives, cut from draws for
        the whole global batch (the same in every process); the loss is the mean of the shards' balanced losses.
        Returns its loss and accuracies."""
        n = len(shards[0].fake)
        draw = {kind: f[torch.randint(len(f), (n * self.config.sample_shards,), generator=self.data_rng)]
                for kind, f in self.real_features.items() if len(f)}
        total, real_right, generated_right = [], [], []
        self.discriminator.train()
        with torch.random.fork_rng(devices=[]):  # seeded dropout, the caller's random state untouched: resumable
            for shard in shards:
                cut = {kind: rows[shard.index * n: (shard.index + 1) * n] for kind, rows in draw.items()}
                negatives = [shard.fake] + [cut[k][: max(1, n // 2)] for k in ("mismatched", "reversed") if k in cut]
                torch.manual_seed(self._seed(shard.index))  # its dropout draws from a seed of this step and shard
                logits_real, logits_fake = self.discriminator(cut["real"]), self.discriminator(torch.cat(negatives))
                total.append(discriminator_loss(logits_real, logits_fake))
                real_right.append((logits_real > 0).float().mean())
                generated_right.append((logits_fake[:n] < 0).float().mean())
            loss = torch.stack(total).mean()
            self._update("discriminator", loss, self.discriminator, 5.0)
        self.discriminator.eval()
        return self.parallel.mean_values({"d_loss": loss.detach(), "d_acc_real": torch.stack(real_right).mean(),
                                          "d_acc_generated": torch.stack(generated_right).mean()})

    # --- plumbing: where a step meets the other processes (`self.parallel`; nothing happens in one process) ------

    def _contexts(self) -> list:
        """The step's contexts: the global batch, drawn by a generator every process shares."""
        rows = torch.randint(len(self.train_pairs), (self.config.contexts_per_step,), generator=self.data_rng)
        return [self.train_pairs[i] for i in rows.tolist()]

    def _draw_shards(self, pairs: list) -> list[_Shard]:
        """This process's shards of `pairs` (every shard in one process), each drawn by `_draw`."""
        return [self._draw(index, part) for index, part in self.parallel.my_shards(pairs)]

    def _mean_reward(self, shards: Sequence[_Shard]) -> float:
        """The mean reward over the whole batch (every process's samples)."""
        return self.parallel.mean(torch.cat([s.rewards for s in shards]).mean()).item()

    def _response_tokens(self, pairs: list) -> int:
        """How many tokens the real responses of `pairs` hold: the teacher NLL is per token of the whole batch."""
        if self.config.teacher_forcing <= 0:
            return 0
        return int(lm_policy.encode_responses(self.tokenizer, [p.response.text for p in pairs],
                                              self.config.max_new_tokens).mask.sum())

    def _where(self) -> str:
        return f"adversarial step {self.steps + 1}"

    def _update(self, optimizer: str, loss: torch.Tensor, module: torch.nn.Module, clip: float) -> None:
        """`adversarial_state.guarded_update`: finite loss (over every process) or stop, backward, gradients averaged
        over processes, clip, step."""
        guarded_update(self.optimizers[optimizer], loss, module.parameters(), clip, optimizer, self._where(),
                       replicas=self.parallel)

    def _record(self, **values: float | torch.Tensor) -> Record:
        """Record `values` (a tensor: this process's number, averaged over processes) after checking they are
        finite; to the history and the callback."""
        values = self.parallel.mean_values(values)
        check_finite("adversarial", self._where(), **values)
        self.steps += 1
        record: Record = {"phase": "adversarial", "step": self.steps, **values}
        self.history.append(record)
        if self.callback is not None:
            self.callback(record)
        return record

    # --- checkpoints (shared layout: heygen_lib.adversarial_state) ----------------------------------------------

    def _parts(self):
        return ({"policy": self.policy, "discriminator": self.discriminator}, self.optimizers,
                {"data_rng": self.data_rng})

    def save(self, path: str | Path) -> Path:
        """Policy and discriminator weights, optimiser states, step, baseline, history and random states, in one
        file of tensors and plain values (atomic write; loads with ``weights_only=True``). Rank 0 writes; every
        process returns once it is written."""
        return distributed.on_main(lambda: save_trainer(path, self.config, *self._parts(), steps=self.steps,
                                                        moving_baseline=self.moving_baseline,
                                                        history=self.history)) or Path(path)

    def load(self, path: str | Path) -> AdversarialLMTrainer:
        """Resume from `save`'s file (same models and config); the reference model is not in it: it never changes."""
        state = restore_trainer_state(path, self.device, self.config, *self._parts())
        self.steps, self.moving_baseline, self.history = state["steps"], state["moving_baseline"], list(state["history"])
        return self


def train_adversarial_lm(trainer: AdversarialLMTrainer, steps: int, checkpoint: str | Path | None = None,
                         save_every: int = 10, progress: bool = True) -> list[Record]:
    """`steps` more adversarial steps with a progress bar (closed at the end), saving a checkpoint every
    `save_every` steps and at the end when `checkpoint` names a file: an interrupted run resumes from it."""
    records = []
    quiet = not progress or not distributed.is_main()  # one bar, not one per process
    for i in trange(steps, desc="adversarial steps", leave=False, disable=quiet):
        records.append(trainer.step())
        if checkpoint is not None and ((i + 1) % save_every == 0 or i + 1 == steps):
            trainer.save(checkpoint)
    return records
