"""Notebook 03's oracle experiment as one script, for a GPU machine without Jupyter: MLE, SeqGAN (the kit's recipe
and one closer to SeqGAN's: generator lr 1e-2, five discriminator batches per step) and a Gumbel GAN (RSGAN) from the
same MLE weights; NLL_oracle / NLL_test, an MLE temperature sweep, and throughput per method (wall time with
evaluations, generator tokens/s, SeqGAN rollout completions/s, peak memory). Peak memory is per method on a GPU
(``torch.cuda.max_memory_allocated``, reset before each method); on a CPU it is the process's resident high-water
mark after each method, so only growth between rows is that method's.

    python benchmarks/oracle_protocol.py --profile full --out artifacts/oracle-full   # papers' sizes, on a GPU
    python benchmarks/oracle_protocol.py --profile smoke --out /tmp/oracle-smoke      # minutes on a CPU

Writes results.json and results.md (the table, the device, the sizes) to --out and prints the table.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from dataclasses import replace
from pathlib import Path

import torch

from heygen_lib.gan.discriminators import CNNDiscriminator, CNNDiscriminatorConfig
from heygen_lib.gan.evaluation import oracle_metrics, temperature_sweep
from heygen_lib.gan.generators import LSTMGenerator, LSTMGeneratorConfig
from heygen_lib.gan.oracle import oracle_benchmark, oracle_config, oracle_floor
from heygen_lib.gan.training import GANTrainer, TrainConfig, gumbel_recipe, seqgan_recipe, train_adversarial, train_mle
from heygen_lib.profile import PROFILES, device
from heygen_lib.tables import markdown_table
from measuring import peak_mb, reset_peak  # benchmarks/measuring.py, beside this script


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=list(PROFILES), default="full")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sizes, config, dev = PROFILES[args.profile].gan, oracle_config(args.profile), device()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)

    oracle, train, test = oracle_benchmark(config, folder=args.out / "oracle", device=dev)
    floor = oracle_floor(oracle, test)
    metrics = oracle_metrics(oracle, test, n_samples=sizes.eval_samples)

    def generator() -> LSTMGenerator:
        return LSTMGenerator(LSTMGeneratorConfig(config.vocab_size, config.max_len, config.start_token)).to(dev)

    def discriminator() -> CNNDiscriminator:
        return CNNDiscriminator(CNNDiscriminatorConfig(vocab_size=config.vocab_size, max_len=config.max_len)).to(dev)

    seconds: dict[str, float] = {}  # wall time per phase, evaluations included
    memory = "peak GPU MB" if dev.type == "cuda" else "process peak RSS MB"
    reset_peak(dev)
    start = time.perf_counter()
    mle = GANTrainer(generator(), discriminator(), train, TrainConfig(seed=args.seed))
    train_mle(mle, sizes.mle_epochs, metrics, eval_every=sizes.eval_every)
    seconds["MLE"] = time.perf_counter() - start
    mle_state = copy.deepcopy(mle.generator.state_dict())

    def from_mle(train_config: TrainConfig) -> GANTrainer:
        g = generator()
        g.load_state_dict(mle_state)
        return GANTrainer(g, discriminator(), train, train_config)

    runs = {
        "SeqGAN": seqgan_recipe(sizes.rollouts, seed=args.seed),
        "SeqGAN (G lr 1e-2, 5 D batches/step)": replace(seqgan_recipe(sizes.rollouts, seed=args.seed), g_lr=1e-2, d_steps=5),
        "Gumbel GAN (rsgan)": gumbel_recipe("rsgan", sizes.gumbel_steps, seed=args.seed),
    }
    trainers = {"MLE": mle}
    rows = [{"method": "MLE", "steps": sizes.mle_epochs, "seconds": seconds["MLE"],
             "generator tokens/s": sizes.mle_epochs * len(train) * config.max_len / seconds["MLE"], "rollouts/s": "-",
             memory: peak_mb(dev)}]
    for name, train_config in runs.items():
        reset_peak(dev)
        start = time.perf_counter()
        trainer = from_mle(train_config)
        if train_config.method == "seqgan":
            for _ in range(sizes.d_pretrain_steps):
                trainer.discriminator_step()
        steps = sizes.adversarial_steps if train_config.method == "seqgan" else sizes.gumbel_steps
        train_adversarial(trainer, steps, metrics, eval_every=sizes.eval_every)
        took = time.perf_counter() - start  # includes discriminator pre-training and evaluations
        trainers[name] = trainer
        rollouts = steps * train_config.rollouts * (config.max_len - 1) * train_config.batch_size
        rows.append({"method": name, "steps": steps, "seconds": took,
                     "generator tokens/s": steps * train_config.batch_size * config.max_len / took,
                     "rollouts/s": rollouts / took if train_config.method == "seqgan" else "-",
                     memory: peak_mb(dev)})
    for row in rows:
        last = [r for r in trainers[row["method"]].history if r["phase"] == "eval"][-1]
        row |= {"NLL_oracle": last["nll_oracle"], "NLL_test": last["nll_test"], "distinct-3": last["distinct-3"]}
    rows.append({"method": "oracle floor", "NLL_oracle": floor, "NLL_test": floor})
    sweep = temperature_sweep(mle.generator, lambda t: oracle_metrics(oracle, test, sizes.eval_samples, t),
                              (0.7, 0.85, 1.0, 1.2, 1.5))
    name = torch.cuda.get_device_name(0) if dev.type == "cuda" else "CPU"
    header = (f"device {dev} ({name}), torch {torch.__version__}, profile {args.profile}, seed {args.seed}\n"
              f"oracle {config}\nsizes {sizes}\n")
    table = markdown_table(rows) + "\n\nMLE temperature sweep:\n\n" + markdown_table(sweep)
    (args.out / "results.md").write_text(header + "\n" + table + "\n")
    (args.out / "results.json").write_text(json.dumps({"header": header, "rows": rows, "mle_sweep": sweep,
                                                        "history": {k: t.history for k, t in trainers.items()}},
                                                       indent=1))
    print(header + "\n" + table)


if __name__ == "__main__":
    main()
