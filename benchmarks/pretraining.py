"""Pretraining throughput and peak memory of the stand-in GPT-2: packed blocks against one conversation per row.

    python benchmarks/pretraining.py             # CPU: the stand-in's shape, a few steps per setting (~2 minutes)
    python benchmarks/pretraining.py --steps 40  # on a GPU when there is one

Both settings train the stand-in's architecture (`PretrainConfig`'s defaults, fresh random weights) with AdamW on
the same Chit-Chat conversations, the same number of rows per step, each in a fresh process so that its peak memory
is its own (`measuring`). Throughput counts **trained tokens**, those with a label (not padding):

- baseline: one conversation per row, cut to the block size, batches padded to their longest row (what the
  fine-tuning rows do, and what a pipeline without packing does);
- packed: the conversations joined end to end and cut into full blocks (`pretrain.pack_blocks`), no padding.

Ratios are against the baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from measuring import fastest_pass, hardware, in_fresh_process, memory_label, peak_mb, reset_peak  # benchmarks/measuring.py, beside this script

SETTINGS = ("one conversation per row", "packed blocks")


def measure(setting: str, device: str, conversations: int, batch_size: int, steps: int, repeats: int) -> dict:
    """One setting, meant to run in a fresh process: trained tokens/s, computed tokens/s and peak memory."""
    from heygen_lib.nlg.pretrain import PretrainConfig, build_corpus, build_tokenizer, init_model, pack_blocks
    from heygen_lib.nlg.rows import collator_for

    config = PretrainConfig(conversations=conversations)
    corpus = build_corpus(config)
    tokenizer = build_tokenizer(corpus.tokenizer_texts, config)
    ids = tokenizer(corpus.lm_texts, add_special_tokens=False, verbose=False)["input_ids"]
    if setting == "packed blocks":
        rows = pack_blocks(ids, config.block_size)
    else:
        rows = [{"input_ids": t[: config.block_size], "labels": t[: config.block_size]} for t in ids]
    needed = (steps + 1) * batch_size
    if len(rows) < needed:
        raise ValueError(f"{len(rows)} rows are too few for {steps} steps of {batch_size} plus a warm-up batch")
    generator = torch.Generator().manual_seed(0)
    order = torch.randperm(len(rows), generator=generator).tolist()[:needed]
    batches = [[rows[i] for i in order[s : s + batch_size]] for s in range(0, needed, batch_size)]
    warm_up, batches = batches[0], batches[1:]
    collate = collator_for(tokenizer)
    model = init_model(tokenizer, config).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate)

    def step(batch: list[dict]) -> tuple[int, int]:
        inputs = {k: v.to(device) for k, v in collate(batch).items()}
        model(**inputs).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return int((inputs["labels"][:, 1:] != -100).sum()), inputs["input_ids"].numel()

    base = reset_peak(device)
    step(warm_up)
    seconds, (trained, computed), _ = fastest_pass(step, batches, repeats, device)
    return {"trained/s": trained / seconds, "computed/s": computed / seconds, "padding": 1 - trained / computed,
            "peak MB": peak_mb(device) - base, "parameters": sum(p.numel() for p in model.parameters())}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, help="optimizer steps per timed pass (default: 4 CPU, 40 GPU)")
    parser.add_argument("--batch-size", type=int, default=8, help="rows per step (the stand-in's 8)")
    parser.add_argument("--conversations", type=int, default=800, help="Chit-Chat conversations read")
    parser.add_argument("--repeats", type=int, default=2, help="timed passes per setting; the fastest counts")
    args = parser.parse_args(argv)
    steps = args.steps or (40 if args.device == "cuda" else 4)
    print(f"stand-in GPT-2 on {hardware(args.device)}; batch {args.batch_size}, {steps} steps per timed pass, best of "
          f"{args.repeats}; torch {torch.__version__}, python {platform.python_version()}")
    memory = memory_label(args.device)
    results = [{"setting": s, **in_fresh_process(measure, s, args.device, args.conversations, args.batch_size, steps,
                                                  args.repeats)} for s in SETTINGS]
    base = results[0]
    print(f"\n{'setting':<26} {'trained tok/s':>13} {'x baseline':>10} {'computed tok/s':>14} {'padding':>8} "
          f"{memory:>19} {'x baseline':>10}")
    for r in results:
        memory_ratio = r["peak MB"] / base["peak MB"] if base["peak MB"] > 0 else float("nan")
        print(f"{r['setting']:<26} {r['trained/s']:>13,.0f} {r['trained/s'] / base['trained/s']:>10.2f} "
              f"{r['computed/s']:>14,.0f} {r['padding']:>8.0%} {r['peak MB']:>19.1f} {memory_ratio:>10.2f}")
    print(f"\n{base['parameters']:,} parameters. Trained tokens have a label (no padding); a row of the baseline "
          "trains fewer tokens for about the same compute when it is padded.")
    if args.device == "cpu":
        print("On a CPU the memory column is the process's resident high-water mark over what loading took: read "
              "its ratio loosely.")
    return results


if __name__ == "__main__":
    main()
