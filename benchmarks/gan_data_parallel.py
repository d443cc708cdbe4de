"""Data-parallel text-GAN MLE throughput: 1 process vs N processes at the same global batch, in one run.

    python benchmarks/gan_data_parallel.py                   # the full oracle's sizes, 1 vs 2 processes on the CPU
    python benchmarks/gan_data_parallel.py --profile smoke   # the smoke oracle's (vocabulary 500, length 10)

Each setting is a fresh ``torchrun --standalone --nproc_per_node P`` of this file running `GANTrainer.mle_epoch`,
the call ``python -m heygen_lib.gan`` makes, on the same random token rows with the same global batch: under torchrun
each process takes batch / P rows of every batch and `DistributedDataParallel` averages the gradients. The data are
random tokens (MLE's cost does not depend on what the tokens say), so no oracle has to be built first.

Scaling efficiency = (tokens/s with P processes) / (P x tokens/s with 1 process): 1.0 is perfect. The oracle's
generator is small (32 units), so each step's computation is short against the gradient all-reduce and the per-step
overheads that every process repeats; "1 process, P threads" shows what the same cores give without processes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

import torch
from measuring import fastest_pass, print_scaling, scaling_settings, torchrun_setting  # beside this script

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing


def worker(args: argparse.Namespace) -> None:
    """One process of a setting (started by torchrun): timed MLE epochs; rank 0 prints the result as JSON."""
    from heygen_lib import distributed
    from heygen_lib.gan.discriminators import CNNDiscriminator, CNNDiscriminatorConfig
    from heygen_lib.gan.generators import LSTMGenerator, LSTMGeneratorConfig
    from heygen_lib.gan.oracle import oracle_config
    from heygen_lib.gan.training import GANTrainer, TrainConfig

    distributed.init()
    device = distributed.device()
    oracle = oracle_config(args.profile)
    torch.manual_seed(0)
    generator = LSTMGenerator(LSTMGeneratorConfig(vocab_size=oracle.vocab_size, max_len=oracle.max_len,
                                                  start_token=oracle.start_token)).to(device)
    discriminator = CNNDiscriminator(CNNDiscriminatorConfig(vocab_size=oracle.vocab_size, max_len=oracle.max_len))
    real = torch.randint(1, oracle.vocab_size, (args.rows, oracle.max_len), generator=torch.Generator().manual_seed(0))
    trainer = GANTrainer(generator, discriminator, real, TrainConfig(batch_size=args.batch_size))
    trainer.mle_epoch()  # warm-up
    distributed.wait_for_everyone()
    seconds, (tokens,), spread = fastest_pass(lambda _: (trainer.mle_epoch() and real.numel(),), [None] * args.epochs,
                                              args.repeats, device)
    distributed.say(json.dumps({"tokens/s": tokens / seconds, "spread": spread}))


def run_setting(args: argparse.Namespace, processes: int, threads: int) -> dict:
    """One fresh torchrun of this file with `processes` processes of `threads` threads each."""
    arguments = ["--worker", "--profile", args.profile, "--rows", str(args.rows), "--batch-size",
                 str(args.batch_size), "--epochs", str(args.epochs), "--repeats", str(args.repeats)]
    return torchrun_setting(__file__, arguments, processes, threads)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=("smoke", "full"), default="full", help="the oracle's sizes")
    parser.add_argument("--processes", type=int, default=2, help="compared with 1 process")
    parser.add_argument("--rows", type=int, default=2048, help="training sequences per epoch")
    parser.add_argument("--batch-size", type=int, default=64, help="global batch: rows per step over all processes")
    parser.add_argument("--epochs", type=int, default=2, help="MLE epochs per timed pass")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per setting; the fastest counts")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args)
        return []
    from heygen_lib.gan.oracle import oracle_config

    gpu, p, oracle = torch.cuda.is_available(), args.processes, oracle_config(args.profile)
    print(f"text-GAN MLE, the {args.profile} oracle's generator (vocabulary {oracle.vocab_size}, length "
          f"{oracle.max_len}, LSTM {oracle.hidden_dim}); {'GPUs: ' + torch.cuda.get_device_name(0) if gpu else 'CPU'}, "
          f"{os.cpu_count()} cores visible; {args.rows} rows, global batch {args.batch_size}, {args.epochs} epochs per "
          f"timed pass, best of {args.repeats}; torch {torch.__version__} ({'nccl' if gpu else 'gloo'}), python "
          f"{platform.python_version()}")
    results = [{"processes": n, "threads": t, **run_setting(args, n, t)} for n, t in scaling_settings(p, gpu)]
    print_scaling(results, gpu)
    return results


if __name__ == "__main__":
    main()
