"""Train a text GAN from a terminal, as notebook 03 does: ``python -m heygen_lib.gan``.

MLE pre-training, discriminator pre-training, then SeqGAN or a Gumbel-softmax GAN, on the synthetic oracle (scored
by NLL_oracle and NLL_test) or on a text file of one sentence per line (scored by BLEU and Self-BLEU against a held-out
tenth). Sizes come from the profile (``HEYGEN_PROFILE`` or ``--profile``), each overridable by a flag; checkpoints
go where notebook 03 writes them (``artifacts/text_gans/mle.pt``, ``seqgan.pt``, ``gumbel-<loss>.pt``) and
``--resume`` continues from them.

Data-parallel in N processes (README: "When you outgrow Colab"), the same global batch split over them::

    torchrun --standalone --nproc_per_node 2 -m heygen_lib.gan --batch-size 64

Only rank 0 evaluates, prints and writes. ``--sample-shards K`` draws generated samples in K seeded shards: runs
with the same K (and no discriminator dropout, ``--dropout 0``) end with the same weights in 1, 2 or K processes up
to float rounding, and a checkpoint resumes on any number of processes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

# The flags' choices, kept here so that --help answers without importing torch (a test checks that they are the
# kit's: heygen_lib.profile.PROFILES, heygen_lib.gan.losses.LOSSES and heygen_lib.gan.training.RECIPES).
PROFILE_NAMES = ("full", "smoke", "rehearsal")
LOSS_NAMES = ("hinge", "rsgan", "standard", "wgan-gp")
RECIPE_NAMES = ("relgan", "relgan_fast", "seqgan_fast", "seqgan_kit_v1", "seqgan_paper")
# Notebook 03's recipes, the defaults: SeqGAN's and RelGAN's schedules with learning rates at which a run of tens to
# hundreds of steps gets a discriminator above chance, so the generator has a signal to follow.
DEFAULT_RECIPES = {"seqgan": "seqgan_fast", "gumbel": "relgan_fast"}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m heygen_lib.gan", description=__doc__.splitlines()[0],
                                     epilog="Unset flags take the profile's value (heygen_lib/profile.py, GanSizes). "
                                     "Under torchrun --nproc_per_node N the batch is split over the N processes.")
    parser.add_argument("--profile", choices=PROFILE_NAMES, default=None)
    parser.add_argument("--data", default="oracle", help="'oracle' (the synthetic benchmark) or a text file")
    parser.add_argument("--method", choices=tuple(DEFAULT_RECIPES), default=None,
                        help="seqgan (default) or gumbel; each runs notebook 03's recipe unless --recipe names another")
    parser.add_argument("--recipe", choices=RECIPE_NAMES, default=None,
                        help="a named schedule (heygen_lib.gan.training.RECIPES; default: seqgan_fast for seqgan, "
                             "relgan_fast for gumbel); the method is the recipe's")
    parser.add_argument("--loss", choices=LOSS_NAMES, default="rsgan", help="the Gumbel GAN's loss")
    parser.add_argument("--mle-epochs", type=int, default=None)
    parser.add_argument("--d-pretrain-steps", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None, help="adversarial steps")
    parser.add_argument("--rollouts", type=int, default=None, help="SeqGAN's Monte-Carlo rollouts per prefix")
    parser.add_argument("--eval-every", type=int, default=None)
    parser.add_argument("--eval-samples", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None,
                        help="rows per update, summed over all processes (a multiple of their number; default 64, "
                             "TrainConfig's)")
    parser.add_argument("--sample-shards", type=int, default=None,
                        help="draw generated samples in this many seeded shards (a multiple of the number of "
                             "processes) so that 1, 2 or K processes give the same run (default: one per process)")
    parser.add_argument("--dropout", type=float, default=None,
                        help="the discriminator's dropout (default 0.25, CNNDiscriminatorConfig's; 0: no random "
                             "masks, which differ with the process count)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=None, help="checkpoint folder (default: artifacts/text_gans)")
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoints in --output")
    return parser.parse_args(argv)


def _data(args: argparse.Namespace, sizes, dev):
    """(generator config, training sequences, metrics, what the data is) for the oracle or a text file."""
    from heygen_lib import distributed
    from heygen_lib.gan.evaluation import oracle_metrics, text_metrics
    from heygen_lib.gan.generators import LSTMGeneratorConfig
    from heygen_lib.gan.oracle import oracle_benchmark, oracle_config
    from heygen_lib.gan.text_data import Vocabulary, length_for, load_text_lines
    from heygen_lib.paths import artifacts_dir, shown_path

    if args.data == "oracle":
        config = oracle_config(args.profile)
        oracle, train, test = oracle_benchmark(config, folder=artifacts_dir() / "oracle", device=dev)
        generator = LSTMGeneratorConfig(vocab_size=config.vocab_size, max_len=config.max_len,
                                        start_token=config.start_token)
        return generator, train, oracle_metrics(oracle, test, n_samples=sizes.eval_samples), f"the {args.profile} oracle"
    lines = load_text_lines(args.data)
    if len(lines) < 20:
        raise ValueError(f"{args.data}: {len(lines)} lines; a text GAN needs at least 20 (one sentence per line)")
    held_out = max(1, len(lines) // 10)
    train = lines[held_out:]
    vocab = Vocabulary.build(train, max_size=sizes.text_vocab)
    max_len, truncated = length_for(train)  # notebook 03's choice: the length that holds 99.9% of sentences whole
    distributed.say(f"{shown_path(args.data)}: sequences of {max_len} tokens; {truncated} of {len(train)} training "
                    "sentences are longer and cut")
    generator = LSTMGeneratorConfig(vocab_size=len(vocab), max_len=max_len, start_token=vocab.bos,
                                    embed_dim=64, hidden_dim=128)  # notebook 03's real-text generator
    metrics = text_metrics(vocab, lines[:held_out], n_samples=min(sizes.eval_samples, 500), train_texts=train)
    return generator, vocab.encode(train, max_len), metrics, str(shown_path(args.data))


def _recipe(args: argparse.Namespace, rollouts: int):
    """(TrainConfig, checkpoint name): --recipe, or the method's default (notebook 03's)."""
    from heygen_lib.gan.training import recipe

    name = args.recipe or DEFAULT_RECIPES[args.method or "seqgan"]
    method = recipe(name).method
    if args.method and method != args.method:
        raise ValueError(f"--recipe {name} is a {method} recipe; drop --method {args.method} or pick a "
                         f"{args.method} recipe")
    config = recipe(name, seed=args.seed, **({"rollouts": rollouts} if method == "seqgan" else {"loss": args.loss}))
    file = {"seqgan": "seqgan", "gumbel": f"gumbel-{args.loss}"}[method] if args.recipe is None else (
        name if method == "seqgan" else f"{name}-{args.loss}")
    return config, f"{file}.pt"


def run(args: argparse.Namespace) -> dict[str, float]:
    """MLE, then the adversarial method; returns the last evaluation's numbers."""
    import torch

    from heygen_lib import distributed
    from heygen_lib.gan.discriminators import CNNDiscriminator, CNNDiscriminatorConfig
    from heygen_lib.gan.generators import LSTMGenerator
    from heygen_lib.gan.oracle import oracle_benchmark, oracle_config
    from heygen_lib.gan.training import GANTrainer, TrainConfig, train_adversarial, train_mle
    from heygen_lib.paths import artifacts_dir, shown_path
    from heygen_lib.profile import PROFILES, active_profile

    profile = PROFILES[args.profile] if args.profile else active_profile()
    sizes = profile.gan
    args.profile = profile.name
    pick = lambda flag, size: size if flag is None else flag  # noqa: E731
    config, name = _recipe(args, pick(args.rollouts, sizes.rollouts))
    mle_epochs = pick(args.mle_epochs, sizes.mle_epochs if args.data == "oracle" else sizes.text_mle_epochs)
    steps = pick(args.steps, sizes.adversarial_steps if config.method == "seqgan" else sizes.gumbel_steps)
    eval_every = pick(args.eval_every, sizes.eval_every)
    batch_size = pick(args.batch_size, TrainConfig.batch_size)
    dropout = pick(args.dropout, CNNDiscriminatorConfig.dropout)
    sizes = replace(sizes, eval_samples=pick(args.eval_samples, sizes.eval_samples))
    processes = distributed.world_size()
    per_process = distributed.per_process_batch(batch_size)  # a batch that does not split: refused before work
    shards = args.sample_shards
    if shards is not None and (shards < 1 or batch_size % shards or shards % processes):
        raise ValueError(f"--sample-shards {shards} must divide --batch-size {batch_size} and be a multiple of "
                         f"the {processes} process{'es' if processes > 1 else ''}")
    distributed.init()
    dev = distributed.device()
    if args.data == "oracle":  # rank 0 builds the oracle's cache once; the others then read it
        distributed.on_main(lambda: oracle_benchmark(oracle_config(args.profile), folder=artifacts_dir() / "oracle"))
    generator_config, real, metrics, data_name = _data(args, sizes, dev)
    output = args.output or artifacts_dir() / "text_gans"
    split = f"; {processes} processes, {per_process} rows each per update" if processes > 1 else ""
    distributed.say(f"profile {profile.name} on {dev}; data {args.data}: {tuple(real.shape)}; {mle_epochs} MLE epochs, "
                    f"then {steps} {config.method} steps ({args.recipe or DEFAULT_RECIPES[config.method]}); batch "
                    f"{batch_size}{split}; checkpoints in {shown_path(output)}")

    def trainer(train_config: TrainConfig) -> GANTrainer:
        torch.manual_seed(args.seed)  # the initial weights, the same in every run (and rank 0's reach all processes)
        generator = LSTMGenerator(generator_config).to(dev)
        discriminator = CNNDiscriminator(CNNDiscriminatorConfig(vocab_size=generator_config.vocab_size,
                                                                max_len=generator_config.max_len, dropout=dropout))
        return GANTrainer(generator, discriminator, real, replace(train_config, batch_size=batch_size),
                          sample_shards=args.sample_shards, data_name=data_name)

    mle, mle_file = trainer(TrainConfig(seed=args.seed)), output / "mle.pt"
    if args.resume and mle_file.exists():
        mle.load(mle_file)
    if mle.steps["mle"] < mle_epochs:
        train_mle(mle, mle_epochs - mle.steps["mle"])
        mle.save(mle_file)
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
    distributed.say("after MLE:        " + ", ".join(f"{k} {before[k]:.3f}" for k in shown))
    distributed.say(f"after {config.method:<11} " + ", ".join(f"{k} {after[k]:.3f}" for k in shown))
    distributed.say(f"saved {shown_path(mle_file)} and {shown_path(gan_file)}")
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
