"""Data-parallel fine-tuning throughput: 1 process vs N processes at the same global batch, in one run.

    python benchmarks/data_parallel.py                  # tiny offline GPT-2, 1 vs 2 processes on the CPU (gloo)
    python benchmarks/data_parallel.py --processes 4    # 1 vs 4 (on a machine with 4 GPUs: nccl, one GPU each)

Each setting is a fresh ``torchrun --standalone --nproc_per_node P`` of this file, training the same model on the
same rows with the same global batch (each process takes batch / P rows, as `fine_tune` does under torchrun) with
`DistributedDataParallel`, the wrapper `transformers.Trainer` uses: every step each process computes its rows'
gradients, all processes average them (all-reduce), every process applies the same AdamW update.

Scaling efficiency = (tokens/s with P processes) / (P x tokens/s with 1 process): 1.0 is perfect; below it are
the gradient all-reduce and the smaller per-process batches. On CPUs every process gets one thread
(``OMP_NUM_THREADS=1``, torchrun's default), so P processes use P cores; the line "1 process, P threads" shows what
the same cores give without data parallelism (intra-op threads).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch
from measuring import print_scaling, scaling_settings, torchrun_setting  # benchmarks/measuring.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing


def worker(args: argparse.Namespace) -> None:
    """One process of a setting (started by torchrun): timed DDP steps; rank 0 prints the result as JSON."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    from heygen_lib import distributed
    from heygen_lib.data import prepare_pairs
    from heygen_lib.nlg.finetune import load_model, tiny_base_dir, tokenizer_texts
    from heygen_lib.nlg.rows import collator_for, encode_pairs
    from heygen_lib.tiny_models import build_tiny_causal_lm

    distributed.init()
    device = distributed.device()
    pairs = prepare_pairs("support").train
    name = args.model
    if name is None:  # rank 0 builds the tiny model, the others read it
        distributed.on_main(lambda: build_tiny_causal_lm(tokenizer_texts(pairs), tiny_base_dir()))
        name = tiny_base_dir()
    torch.manual_seed(0)
    model, tokenizer = load_model(name, device=device)
    model.train()
    ddp = DistributedDataParallel(model) if distributed.launched() else model
    rows, _ = encode_pairs(tokenizer, pairs, args.max_length)
    collate = collator_for(tokenizer)
    share = distributed.per_process_batch(args.batch_size)
    order = torch.randperm(len(rows), generator=torch.Generator().manual_seed(0)).tolist()
    if len(order) < (args.steps + 1) * args.batch_size:
        raise ValueError(f"{len(rows)} rows are too few for {args.steps} steps of {args.batch_size} plus a warm-up")
    first = distributed.rank() * share  # this process's slice of every global batch
    batches = [[rows[i] for i in order[s * args.batch_size + first : s * args.batch_size + first + share]]
               for s in range(args.steps + 1)]
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step(batch: list[dict]) -> int:
        inputs = {k: v.to(device) for k, v in collate(batch).items()}
        ddp(**inputs).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return int(inputs["attention_mask"].sum())

    step(batches[-1])  # warm-up
    rates = []
    for _ in range(args.repeats):  # the fastest pass counts: on a shared machine the others were slowed down
        distributed.wait_for_everyone()
        start = time.perf_counter()
        tokens = torch.tensor(sum(step(batch) for batch in batches[:-1]), dtype=torch.float64)
        if device.type == "cuda":
            torch.cuda.synchronize()
        distributed.wait_for_everyone()
        seconds = time.perf_counter() - start
        if distributed.launched():
            dist.all_reduce(tokens)  # tokens trained by all processes together
        rates.append(tokens.item() / seconds)
    distributed.say(json.dumps({"tokens/s": max(rates), "spread": 1 - min(rates) / max(rates)}))


def run_setting(args: argparse.Namespace, processes: int, threads: int) -> dict:
    """One fresh torchrun of this file with `processes` processes of `threads` threads each."""
    arguments = ["--worker", "--batch-size", str(args.batch_size), "--steps", str(args.steps), "--max-length",
                 str(args.max_length), "--repeats", str(args.repeats)] + (["--model", args.model] if args.model else [])
    return torchrun_setting(__file__, arguments, processes, threads)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="hub name or folder (default: the tiny offline GPT-2)")
    parser.add_argument("--processes", type=int, default=2, help="compared with 1 process")
    parser.add_argument("--batch-size", type=int, default=16, help="global batch: rows per step over all processes")
    parser.add_argument("--steps", type=int, default=8, help="optimizer steps per timed pass")
    parser.add_argument("--max-length", type=int, default=192, help="tokens per row (the smoke profile's 192)")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per setting; the fastest counts")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args)
        return []
    gpu = torch.cuda.is_available()
    p = args.processes
    print(f"model {args.model or 'tiny offline GPT-2'}; {'GPUs: ' + torch.cuda.get_device_name(0) if gpu else 'CPU'}, "
          f"{os.cpu_count()} cores visible; global batch {args.batch_size}, max_length {args.max_length}, {args.steps} "
          f"AdamW steps per timed pass, best of {args.repeats}; torch {torch.__version__} "
          f"({'nccl' if gpu else 'gloo'}), "
          f"python {platform.python_version()}")
    results = [{"processes": n, "threads": t, **run_setting(args, n, t)} for n, t in scaling_settings(p, gpu)]
    print_scaling(results, gpu)
    return results


if __name__ == "__main__":
    main()
