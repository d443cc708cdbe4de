"""Train a text GAN from a terminal, as notebook 03 does: ``python -m heygen_lib.gan``.

MLE pre-training, discriminator pre-training, then SeqGAN or a Gumbel-softmax GAN, on the synthetic oracle (scored
by NLL_oracle and NLL_test) or on a text file of one sentence per line (scored by BLEU and Self-BLEU against a held-out
tenth). Sizes come from the profile (``HEYGEN_PROFILE`` or ``--profile``), each overridable by a flag; checkpoints
go where notebook 03 writes them (``artifacts/text_gans/mle.pt``, ``seqgan.pt``, ``gumbel-<loss>.pt``) and
``--resume`` continues from them. One process: the text GAN is not yet data-parallel (README: "When you outgrow
Colab").
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import torch

from heygen_lib.gan.discriminators import CNNDiscriminator, CNNDiscriminatorConfig
from heygen_lib.gan.evaluation import oracle_metrics, text_metrics
from heygen_lib.gan.generators import LSTMGenerator, LSTMGeneratorConfig
from heygen_lib.gan.losses import LOSSES
from heygen_lib.gan.oracle import oracle_benchmark, oracle_config
from heygen_lib.gan.text_data import Vocabulary, length_for, load_text_lines
from heygen_lib.gan.training import GANTrainer, TrainConfig, gumbel_recipe, seqgan_recipe, train_adversarial, train_mle
from heygen_lib.paths import artifacts_dir, shown_path
from heygen_lib.profile import PROFILES, active_profile, device


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m heygen_lib.gan", description=__doc__.splitlines()[0],
                                     epilog="Unset flags take the profile's value (heygen_lib/profile.py, GanSizes).")
    parser.add_argument("--profile", choices=sorted(PROFILES), default=None)
    parser.add_argument("--data", default="oracle", help="'oracle' (the synthetic benchmark) or a text file")
    parser.add_argument("--method", choices=("seqgan", "gumbel"), default="seqgan")
    parser.add_argument("--loss", choices=sorted(LOSSES), default="rsgan", help="the Gumbel GAN's loss")
    parser.add_argument("--mle-epochs", type=int, default=None)
    parser.add_argument("--d-pretrain-steps", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None, help="adversarial steps")
    parser.add_argument("--rollouts", type=int, default=None, help="SeqGAN's Monte-Carlo rollouts per prefix")
    parser.add_argument("--eval-every", type=int, default=None)
    parser.add_argument("--eval-samples", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=None, help="checkpoint folder (default: artifacts/text_gans)")
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoints in --output")
    return parser.parse_args(argv)


def _data(args: argparse.Namespace, sizes, dev: torch.device):
    """(generator config, training sequences, metrics) for the oracle or a text file."""
    if args.data == "oracle":
        config = oracle_config(args.profile)
        oracle, train, test = oracle_benchmark(config, folder=artifacts_dir() / "oracle", device=dev)
        generator = LSTMGeneratorConfig(vocab_size=config.vocab_size, max_len=config.max_len,
                                        start_token=config.start_token)
        return generator, train, oracle_metrics(oracle, test, n_samples=sizes.eval_samples)
    lines = load_text_lines(args.data)
    if len(lines) < 20:
        raise ValueError(f"{args.data}: {len(lines)} lines; a text GAN needs at least 20 (one sentence per line)")
    held_out = max(1, len(lines) // 10)
    train = lines[held_out:]
    vocab = Vocabulary.build(train, max_size=sizes.text_vocab)
    max_len, truncated = length_for(train)  # notebook 03's choice: the length that holds 99.9% of sentences whole
    print(f"{shown_path(args.data)}: sequences of {max_len} tokens; {truncated} of {len(train)} training sentences are longer "
          "and cut", flush=True)
    generator = LSTMGeneratorConfig(vocab_size=len(vocab), max_len=max_len, start_token=vocab.bos,
                                    embed_dim=64, hidden_dim=128)  # notebook 03's real-text generator
    metrics = text_metrics(vocab, lines[:held_out], n_samples=min(sizes.eval_samples, 500), train_texts=train)
    return generator, vocab.encode(train, max_len), metrics


def run(args: argparse.Namespace) -> dict[str, float]:
    """MLE, then the adversarial method; returns the last evaluation's numbers."""
    profile = PROFILES[args.profile] if args.profile else active_profile()
    sizes = profile.gan
    args.profile = profile.name
    pick = lambda flag, size: size if flag is None else flag  # noqa: E731
    mle_epochs = pick(args.mle_epochs, sizes.mle_epochs if args.data == "oracle" else sizes.text_mle_epochs)
    steps = pick(args.steps, sizes.adversarial_steps if args.method == "seqgan" else sizes.gumbel_steps)
    eval_every = pick(args.eval_every, sizes.eval_every)
    sizes = replace(sizes, eval_samples=pick(args.eval_samples, sizes.eval_samples))
    dev = device()
    generator_config, real, metrics = _data(args, sizes, dev)
    output = args.output or artifacts_dir() / "text_gans"
    print(f"profile {profile.name} on {dev}; data {args.data}: {tuple(real.shape)}; {mle_epochs} MLE epochs, then "
          f"{steps} {args.method} steps; checkpoints in {shown_path(output)}", flush=True)

    def trainer(config: TrainConfig) -> GANTrainer:
        discriminator = CNNDiscriminator(CNNDiscriminatorConfig(vocab_size=generator_config.vocab_size,
                                                                max_len=generator_config.max_len))
        return GANTrainer(LSTMGenerator(generator_config).to(dev), discriminator, real, config)

    mle, mle_file = trainer(TrainConfig(seed=args.seed)), output / "mle.pt"
    if args.resume and mle_file.exists():
        mle.load(mle_file)
    if mle.steps["mle"] < mle_epochs:
        train_mle(mle, mle_epochs - mle.steps["mle"])
        mle.save(mle_file)
    if args.method == "seqgan":
        config, name = seqgan_recipe(pick(args.rollouts, sizes.rollouts), seed=args.seed), "seqgan.pt"
    else:
        config, name = gumbel_recipe(args.loss, steps, seed=args.seed), f"gumbel-{args.loss}.pt"
    gan, gan_file = trainer(config), output / name
    if args.resume and gan_file.exists():  # its history holds the evaluation after MLE
        gan.load(gan_file)
    else:
        gan.generator.load_state_dict(mle.generator.state_dict())
        for _ in range(pick(args.d_pretrain_steps, sizes.d_pretrain_steps)):
            gan.discriminator_step()
        gan.evaluate(metrics)
    left = max(0, steps - gan.steps["adversarial"])
    train_adversarial(gan, left, metrics, eval_every=eval_every, checkpoint=gan_file)
    evaluations = [r for r in gan.history if r["phase"] == "eval"]
    before, after = evaluations[0], evaluations[-1]
    shown = [k for k in after if k not in ("phase", "step", "mle_epochs", "adversarial_steps")]
    print("after MLE:        " + ", ".join(f"{k} {before[k]:.3f}" for k in shown))
    print(f"after {args.method:<11} " + ", ".join(f"{k} {after[k]:.3f}" for k in shown))
    print(f"saved {shown_path(mle_file)} and {shown_path(gan_file)}")
    return after


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        run(args)
    except (ValueError, OSError) as err:  # a wrong flag value, a missing or malformed file: one line, no traceback
        print(f"error: {str(err).strip().splitlines()[0]}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
