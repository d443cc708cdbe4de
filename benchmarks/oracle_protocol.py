"""Notebook 03's oracle experiment as one script, for a machine without Jupyter: MLE, then SeqGAN and a RelGAN-style
Gumbel GAN (named recipes, `heygen_lib.gan.training.RECIPES`) from the same MLE weights, each with its discriminator
pre-trained to a held-out accuracy; NLL_oracle against the evaluation noise (std over repeated evaluations of the MLE
weights with fresh samples), NLL_test, copy rate, unique fraction, discriminator accuracy on training vs held-out data,
an MLE temperature sweep, and wall time per method.

    python benchmarks/oracle_protocol.py --profile full --out artifacts/oracle-full          # kit oracle, GPU
    python benchmarks/oracle_protocol.py --profile full --seqgan-oracle PATH --out OUT       # the papers' oracle
    python benchmarks/oracle_protocol.py --profile smoke --out /tmp/oracle-smoke             # minutes on a CPU
    python benchmarks/oracle_protocol.py --profile full --mle-epochs 10 --steps 40 --rollouts 4 --out OUT  # slow CPU

``--seqgan-oracle`` takes the path of LantaoYu/SeqGAN's ``save/target_params_py3.pkl`` (never downloaded here; its
SHA-256 is checked and its sizes are read from it; data sampled with seeds 1 (train) and 1,000,004 (test)).
``--n-train`` sets the real training set's size (a small set is memorised by the discriminator; a large one is not).
``--mle-epochs``, ``--steps`` and ``--rollouts`` shrink a run for a slow machine (the header records the sizes used).

Each finished row is written as it comes, so a capped or interrupted run keeps what it measured: ``results.jsonl``
(one JSON object per row, appended) and ``results.md`` (header with device, oracle, sizes and evaluation noise, and
the table so far, rewritten); the MLE temperature sweep is added to results.md last, and results.json (rows, sweep,
training histories) is written once the run is complete. The "vs MLE" column reads each NLL_oracle against MLE's:
better, worse or no difference, beyond 3 standard deviations of the evaluation noise (lower is better).
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from heygen_lib.gan.discriminators import CNNDiscriminator, cnn_config
from heygen_lib.gan.evaluation import evaluation_noise, oracle_metrics, run_summary, temperature_sweep
from heygen_lib.gan.generators import LSTMGenerator, LSTMGeneratorConfig
from heygen_lib.gan.oracle import (SEQGAN_ORACLE_FLOOR, oracle_benchmark, oracle_config, oracle_floor,
                                   seqgan_oracle_benchmark)
from heygen_lib.gan.training import GANTrainer, TrainConfig, recipe, train_adversarial, train_mle
from heygen_lib.profile import PROFILES, device
from heygen_lib.tables import markdown_table


class Results:
    """The rows finished so far, on disk after each one: ``results.jsonl`` (appended) and ``results.md`` (the header,
    the table so far and any closing tables, rewritten)."""

    def __init__(self, folder: Path, header: str):
        self.folder, self.header, self.rows, self.tail = folder, header, [], ""
        (folder / "results.jsonl").write_text("")
        (folder / "results.json").unlink(missing_ok=True)  # an earlier complete run's, never mixed with this one's
        self._write_markdown()

    def note(self, line: str) -> None:
        """Adds a line to the header (e.g. the evaluation noise, once measured)."""
        self.header += line + "\n"
        self._write_markdown()

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        with open(self.folder / "results.jsonl", "a", encoding="utf-8") as file:
            file.write(json.dumps(row) + "\n")
        self._write_markdown()
        reading = "" if row["vs MLE"] == "-" else f", vs MLE: {row['vs MLE']}"
        print(f"finished {row['recipe']}: NLL_oracle {row['NLL_oracle']:.3f}{reading} (rows so far: {len(self.rows)}, "
              f"in {self.folder / 'results.md'})", flush=True)

    def add_table(self, title: str, rows: list[dict[str, Any]]) -> None:
        self.tail += f"\n\n{title}:\n\n" + markdown_table(rows)
        self._write_markdown()

    def text(self) -> str:
        return self.header + "\n" + (markdown_table(self.rows) if self.rows else "(no row finished yet)") + self.tail

    def _write_markdown(self) -> None:
        (self.folder / "results.md").write_text(self.text() + "\n")


def main(argv: list[str] | None = None) -> None:
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
    parser.add_argument("--rollouts", type=int, help="override SeqGAN's rollouts per prefix (the profile's)")
    parser.add_argument("--discriminator", default=None, help="cnn_config name (default: seqgan in full, small in smoke)")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    args = parser.parse_args(argv)
    for flag in ("n_train", "mle_epochs", "steps", "rollouts", "threads"):
        if getattr(args, flag) is not None and getattr(args, flag) < 1:
            parser.error(f"--{flag.replace('_', '-')} must be at least 1, got {getattr(args, flag)}")
    if args.threads:
        torch.set_num_threads(args.threads)
    sizes, dev = PROFILES[args.profile].gan, device()
    sizes = replace(sizes, mle_epochs=args.mle_epochs or sizes.mle_epochs, rollouts=args.rollouts or sizes.rollouts)
    names = (args.recipes or ("seqgan_paper,relgan" if args.profile == "full" else "seqgan_fast,relgan_fast")).split(",")
    try:
        configs = {name: recipe(name, seed=args.seed) for name in names}
    except ValueError as error:
        parser.error(str(error))
    configs = {name: replace(c, rollouts=sizes.rollouts) if c.method == "seqgan" else c for name, c in configs.items()}
    steps = {name: args.steps or (sizes.adversarial_steps if c.method == "seqgan" else sizes.gumbel_steps)
             for name, c in configs.items()}
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

    def generator() -> LSTMGenerator:
        return LSTMGenerator(LSTMGeneratorConfig(config.vocab_size, config.max_len, config.start_token)).to(dev)

    def discriminator() -> CNNDiscriminator:
        return CNNDiscriminator(cnn_config(d_name, config.vocab_size, config.max_len)).to(dev)

    hardware = torch.cuda.get_device_name(0) if dev.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    overridden = [f"--{flag.replace('_', '-')} {getattr(args, flag)}" for flag in ("mle_epochs", "steps", "rollouts")
                  if getattr(args, flag) is not None]
    recipes_used = "; ".join(f"{name} ({c.method}): steps {steps[name]}"
                             + (f", rollouts per prefix {c.rollouts}" if c.method == "seqgan" else "")
                             for name, c in configs.items())
    header = (f"started {started}; device {dev} ({hardware}), torch {torch.__version__}, profile {args.profile}, "
              f"seed {args.seed}\noracle: {oracle_name} ({config}); floor {floor:.3f}"
              + (f" (published: about {published_floor})" if published_floor else "")
              + f"\nsizes used (profile {args.profile}"
              + (f", overridden: {', '.join(overridden)}" if overridden else "") + f"): MLE epochs {sizes.mle_epochs}; "
              f"{recipes_used}; discriminator {d_name} (pre-trained up to {sizes.d_pretrain_steps} batches or to "
              f"held-out accuracy {sizes.d_pretrain_target}); evaluation samples {sizes.eval_samples:,} (every "
              f"{sizes.eval_every} steps and at the end); noise repeats {sizes.noise_repeats}\n")
    results = Results(args.out, header)
    print(header, flush=True)
    try:
        start = time.perf_counter()
        mle = GANTrainer(generator(), discriminator(), train, TrainConfig(seed=args.seed))
        train_mle(mle, sizes.mle_epochs, metrics, eval_every=sizes.eval_every)
        mle_seconds = time.perf_counter() - start
        noise = evaluation_noise(metrics, mle.generator, repeats=sizes.noise_repeats)
        mle_mean, std = noise["nll_oracle"]
        results.note(f"evaluation noise: NLL_oracle std {std:.4f} over {sizes.noise_repeats} evaluations of the MLE "
                     f"weights with {sizes.eval_samples:,} fresh samples each; 'vs MLE' reads a move beyond 3 std")
        mle_state = copy.deepcopy(mle.generator.state_dict())
        results.add({"method": "MLE", "recipe": "SeqGAN MLE (Adam 1e-2)", "steps": sizes.mle_epochs,
                     "seconds": mle_seconds, "NLL_oracle": mle_mean, "NLL_test": noise["nll_test"][0], "move": 0.0,
                     "move / std": "-", "vs MLE": "-", "copy rate": noise["copy_rate"][0],
                     "unique": noise["unique"][0], "distinct-3": noise["distinct-3"][0], "D acc train": "-",
                     "D acc held-out": "-", "D pre-training batches": "-", "D acc held-out after pre-training": "-",
                     "gap to floor": mle_mean - floor})
        histories = {"MLE": mle.history}
        for name, train_config in configs.items():
            start = time.perf_counter()
            g = generator()
            g.load_state_dict(mle_state)
            trainer = GANTrainer(g, discriminator(), train, train_config)
            pre = trainer.pretrain_discriminator(held_out, sizes.d_pretrain_steps, sizes.d_pretrain_target)
            train_adversarial(trainer, steps[name], metrics, eval_every=sizes.eval_every)
            took = time.perf_counter() - start  # discriminator pre-training and evaluations included
            histories[name] = trainer.history
            summary = run_summary(trainer, metrics, held_out, mle_mean, std)
            results.add({"method": train_config.method, "recipe": name, "steps": steps[name], "seconds": took,
                         **summary,
                         "D pre-training batches": pre["batches"],
                         "D acc held-out after pre-training": pre["held_out_accuracy"],
                         "gap to floor": summary["NLL_oracle"] - floor})
        sweep = temperature_sweep(mle.generator, lambda t: oracle_metrics(oracle, test, sizes.eval_samples, t),
                                  (0.7, 0.85, 1.0, 1.2, 1.5))
    except KeyboardInterrupt:
        print(f"\ninterrupted; finished rows kept: {len(results.rows)}, in {args.out / 'results.jsonl'} and "
              "results.md", flush=True)
        raise SystemExit(130) from None
    results.add_table("MLE temperature sweep", sweep)
    (args.out / "results.json").write_text(json.dumps({"header": results.header, "rows": results.rows,
                                                        "mle_sweep": sweep, "history": histories}, indent=1))
    print(results.text())


if __name__ == "__main__":
    main()
