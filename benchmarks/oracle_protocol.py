"""Notebook 03's oracle experiment as one script, for a machine without Jupyter: MLE, then SeqGAN and a RelGAN-style
Gumbel GAN (named recipes, `heygen_lib.gan.training.RECIPES`) from the same MLE weights, each with its discriminator
pre-trained to a held-out accuracy; NLL_oracle against the evaluation noise (std over repeated evaluations of the MLE
weights with fresh samples), NLL_test, copy rate, unique fraction, discriminator accuracy on training vs held-out data,
an MLE temperature sweep, and wall time per method.

    python benchmarks/oracle_protocol.py --profile full --out artifacts/oracle-full          # kit oracle, GPU
    python benchmarks/oracle_protocol.py --profile full --seqgan-oracle PATH --out OUT       # the papers' oracle
    python benchmarks/oracle_protocol.py --profile smoke --out /tmp/oracle-smoke             # minutes on a CPU

``--seqgan-oracle`` takes the path of LantaoYu/SeqGAN's ``save/target_params_py3.pkl`` (never downloaded here; its
SHA-256 is checked and its sizes are read from it; data sampled with seeds 1 (train) and 1,000,004 (test)).
``--n-train`` sets the real training set's size (a small set is memorised by the discriminator; a large one is not).
Writes results.json and results.md (table, device, sizes, oracle) to --out and prints them.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from dataclasses import replace
from pathlib import Path

import torch

from heygen_lib.gan.discriminators import CNNDiscriminator, cnn_config
from heygen_lib.gan.evaluation import evaluation_noise, oracle_metrics, run_summary, temperature_sweep
from heygen_lib.gan.generators import LSTMGenerator, LSTMGeneratorConfig
from heygen_lib.gan.oracle import (SEQGAN_ORACLE_FLOOR, oracle_benchmark, oracle_config, oracle_floor,
                                   seqgan_oracle_benchmark)
from heygen_lib.gan.training import GANTrainer, TrainConfig, recipe, train_adversarial, train_mle
from heygen_lib.profile import PROFILES, device
from heygen_lib.tables import markdown_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=list(PROFILES), default="full")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seqgan-oracle", type=Path, help="path to SeqGAN's save/target_params_py3.pkl")
    parser.add_argument("--n-train", type=int, help="real training sequences (default: the oracle config's)")
    parser.add_argument("--recipes", default=None, help="comma-separated recipe names (default: seqgan_paper,relgan "
                        "in the full profile, seqgan_fast,relgan_fast in smoke)")
    parser.add_argument("--mle-epochs", type=int, help="override the profile's MLE epochs")
    parser.add_argument("--steps", type=int, help="override the adversarial steps of every recipe")
    parser.add_argument("--discriminator", default=None, help="cnn_config name (default: seqgan in full, small in smoke)")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    sizes, dev = PROFILES[args.profile].gan, device()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())

    if args.seqgan_oracle:
        n_train = args.n_train or 10_000
        oracle, train, test, config = seqgan_oracle_benchmark(args.seqgan_oracle, n_train=n_train, device=dev)
        oracle_name, published_floor = "SeqGAN's published oracle", SEQGAN_ORACLE_FLOOR
    else:
        config = oracle_config(args.profile)
        if args.n_train:
            config = replace(config, n_train=args.n_train)
        oracle, train, test = oracle_benchmark(config, folder=args.out / "oracle", device=dev)
        oracle_name, published_floor = f"the kit's {args.profile} oracle", None
    floor = oracle_floor(oracle, test)
    held_out = test[: min(1000, len(test))]
    metrics = oracle_metrics(oracle, test, n_samples=sizes.eval_samples, train_data=train)
    d_name = args.discriminator or ("seqgan" if args.profile == "full" else "small")
    names = (args.recipes or ("seqgan_paper,relgan" if args.profile == "full" else "seqgan_fast,relgan_fast")).split(",")

    def generator() -> LSTMGenerator:
        return LSTMGenerator(LSTMGeneratorConfig(config.vocab_size, config.max_len, config.start_token)).to(dev)

    def discriminator() -> CNNDiscriminator:
        return CNNDiscriminator(cnn_config(d_name, config.vocab_size, config.max_len)).to(dev)

    start = time.perf_counter()
    mle = GANTrainer(generator(), discriminator(), train, TrainConfig(seed=args.seed))
    mle_epochs = args.mle_epochs or sizes.mle_epochs
    train_mle(mle, mle_epochs, metrics, eval_every=sizes.eval_every)
    mle_seconds = time.perf_counter() - start
    noise = evaluation_noise(metrics, mle.generator, repeats=sizes.noise_repeats)
    mle_mean, std = noise["nll_oracle"]
    mle_state = copy.deepcopy(mle.generator.state_dict())
    rows = [{"method": "MLE", "recipe": "SeqGAN MLE (Adam 1e-2)", "steps": mle_epochs, "seconds": mle_seconds,
             "NLL_oracle": mle_mean, "NLL_test": noise["nll_test"][0], "move": 0.0, "moved (> 3 std)": "-",
             "copy rate": noise["copy_rate"][0], "unique": noise["unique"][0], "distinct-3": noise["distinct-3"][0],
             "D acc train": "-", "D acc held-out": "-", "D pre-training batches": "-",
             "D acc held-out after pre-training": "-"}]
    histories = {"MLE": mle.history}
    for name in names:
        train_config: TrainConfig = recipe(name, seed=args.seed)
        if train_config.method == "seqgan":
            train_config = replace(train_config, rollouts=sizes.rollouts)
        steps = args.steps or (sizes.adversarial_steps if train_config.method == "seqgan" else sizes.gumbel_steps)
        start = time.perf_counter()
        g = generator()
        g.load_state_dict(mle_state)
        trainer = GANTrainer(g, discriminator(), train, train_config)
        pre = trainer.pretrain_discriminator(held_out, sizes.d_pretrain_steps, sizes.d_pretrain_target)
        train_adversarial(trainer, steps, metrics, eval_every=sizes.eval_every)
        took = time.perf_counter() - start  # discriminator pre-training and evaluations included
        histories[name] = trainer.history
        rows.append({"method": train_config.method, "recipe": name, "steps": steps, "seconds": took,
                     **run_summary(trainer, metrics, held_out, mle_mean, std),
                     "D pre-training batches": pre["batches"], "D acc held-out after pre-training": pre["held_out_accuracy"]})
    for row in rows:
        row["gap to floor"] = row["NLL_oracle"] - floor
    sweep = temperature_sweep(mle.generator, lambda t: oracle_metrics(oracle, test, sizes.eval_samples, t),
                              (0.7, 0.85, 1.0, 1.2, 1.5))
    hardware = torch.cuda.get_device_name(0) if dev.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    header = (f"started {started}; device {dev} ({hardware}), torch {torch.__version__}, profile {args.profile}, "
              f"seed {args.seed}\noracle: {oracle_name} ({config}); floor {floor:.3f}"
              + (f" (published: about {published_floor})" if published_floor else "")
              + f"\ndiscriminator {d_name}; evaluation noise: NLL_oracle std {std:.4f} over {sizes.noise_repeats} "
              f"evaluations of {sizes.eval_samples} samples\nsizes {sizes}\n")
    table = markdown_table(rows) + "\n\nMLE temperature sweep:\n\n" + markdown_table(sweep)
    (args.out / "results.md").write_text(header + "\n" + table + "\n")
    (args.out / "results.json").write_text(json.dumps({"header": header, "rows": rows, "mle_sweep": sweep,
                                                        "history": histories}, indent=1))
    print(header + "\n" + table)


if __name__ == "__main__":
    main()
