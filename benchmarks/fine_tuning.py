"""Fine-tuning throughput and peak memory, with and without the options that matter.

    python benchmarks/fine_tuning.py                        # tiny offline GPT-2 on the CPU (under 2 minutes)
    python benchmarks/fine_tuning.py --model distilgpt2     # the full profile's model, on the GPU when there is one

Every setting trains the same model on the same rows (the support set's agent responses, one (context, response)
pair per row, `heygen_lib.nlg.rows`) for the same number of AdamW steps, each in a fresh process so that its peak
memory is its own (CUDA: ``torch.cuda.max_memory_allocated``; CPU: growth of the process's peak resident memory
over what loading took). Throughput counts **trained tokens**: the tokens of real rows, not padding; the padded
tokens the model actually computed are shown beside them. Ratios are against the baseline measured in the same run:

- baseline: fp32, random batches padded to their longest row, the model's own loss over every position's logits;
- scored positions only: logits only where the loss reads them (the response's positions), as `fine_tune` computes
  its loss (`heygen_lib.nlg.hf_training.ScoredPositions`);
- padded to max_length: every row padded to the longest allowed row, as a fixed-shape pipeline would;
- length-grouped: rows of similar length batched together (``group_by_length``), so less padding;
- gradient checkpointing: activations recomputed in the backward pass, less memory for more time;
- mixed precision: bf16 (or fp16 with loss scaling on GPUs without bf16) autocast. `fine_tune` turns it on only on
  a GPU; on a CPU it is measured here for completeness.

Packing (concatenating rows into full blocks, as ``run_clm.py`` does) is not measured: it removes padding but joins
unrelated conversations, and the kit keeps one pair per row.
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from measuring import fastest_pass, hardware, in_fresh_process, memory_label, peak_mb, reset_peak  # benchmarks/measuring.py, beside this script

SETTINGS = ("baseline", "scored positions only", "padded to max_length", "length-grouped", "gradient checkpointing",
            "mixed precision")


def _batches(rows: list[dict], setting: str, batch_size: int, steps: int) -> tuple[list[list[dict]], list[dict]]:
    """The timed batches and a warm-up batch. Every setting trains on the same `steps * batch_size` rows (a seeded
    random subset); only their batching differs: random order, or length-grouped as transformers' Trainer does."""
    from transformers.trainer_pt_utils import LengthGroupedSampler

    generator = torch.Generator().manual_seed(0)
    order = torch.randperm(len(rows), generator=generator).tolist()
    if len(order) < (steps + 1) * batch_size:
        raise ValueError(f"{len(rows)} rows are too few for {steps} steps of {batch_size} plus a warm-up batch")
    subset, warm_up = [rows[i] for i in order[: steps * batch_size]], [rows[i] for i in order[-batch_size:]]
    if setting == "length-grouped":
        lengths = [len(r["input_ids"]) for r in subset]
        subset = [subset[i] for i in LengthGroupedSampler(batch_size, lengths=lengths, generator=generator)]
    return [subset[s : s + batch_size] for s in range(0, len(subset), batch_size)], warm_up


def measure(
    model_name: str | None, setting: str, device: str, batch_size: int, steps: int, max_length: int, repeats: int
) -> dict:
    """One setting, meant to run in a fresh process: trained tokens/s, computed tokens/s and peak memory."""
    from heygen_lib.data import prepare_pairs
    from heygen_lib.nlg.finetune import load_model, precision_flags, tokenizer_texts
    from heygen_lib.nlg.hf_training import batch_loss, loss_on_scored_positions
    from heygen_lib.nlg.rows import collator_for, encode_pairs

    torch.manual_seed(0)
    pairs = prepare_pairs("support").train
    model, tokenizer = load_model(model_name, tokenizer_texts(pairs), device=device)
    model.train()
    rows, _ = encode_pairs(tokenizer, pairs, max_length)
    collate = collator_for(tokenizer, pad_to=max_length if setting == "padded to max_length" else None)
    scored_loss = None
    if setting == "scored positions only":
        settings = loss_on_scored_positions(model, collate)
        collate, scored_loss = settings["data_collator"], settings.get("compute_loss_func")
    if setting == "gradient checkpointing":  # renamed activation checkpointing in transformers 5
        (getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable)()
    dtype = None
    if setting == "mixed precision":
        flags = precision_flags("auto") if device == "cuda" else {"bf16": True}
        dtype = torch.bfloat16 if flags.get("bf16") else torch.float16
    scaler = torch.amp.GradScaler(device) if dtype == torch.float16 else None
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    batches, warm_up = _batches(rows, setting, batch_size, steps)

    def step(batch: list[dict]) -> tuple[int, int]:
        inputs = {k: v.to(device) for k, v in collate(batch).items()}
        with torch.autocast(device, dtype=dtype, enabled=dtype is not None):
            loss = batch_loss(model, inputs, scored_loss)
        if scaler:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return int(inputs["attention_mask"].sum()), inputs["input_ids"].numel()

    base = reset_peak(device)  # the model and rows are loaded: what follows is training's own memory
    for _ in range(2):  # warm up: allocator, thread pools, kernels
        step(warm_up)
    seconds, (trained, computed), _ = fastest_pass(step, batches, repeats, device)
    peak = peak_mb(device) - base
    parameters = sum(p.numel() for p in model.parameters())
    return {"trained/s": trained / seconds, "computed/s": computed / seconds, "padding": 1 - trained / computed,
            "peak MB": peak, "seconds": seconds, "parameters": parameters, "dtype": str(dtype or torch.float32)}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="hub name or folder (default: the tiny offline GPT-2)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, help="optimizer steps per timed pass (default: 8 CPU, 40 GPU)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=192, help="tokens per row (the smoke profile's 192)")
    parser.add_argument("--repeats", type=int, default=2, help="timed passes per setting; the fastest counts")
    args = parser.parse_args(argv)
    steps = args.steps or (40 if args.device == "cuda" else 8)
    print(f"model {args.model or 'tiny offline GPT-2'} on {hardware(args.device)}; batch {args.batch_size}, max_length "
          f"{args.max_length}, {steps} steps per timed pass, best of {args.repeats}; torch "
          f"{torch.__version__}, python {platform.python_version()}")
    memory = memory_label(args.device)
    results = []
    for setting in SETTINGS:
        result = in_fresh_process(measure, args.model, setting, args.device, args.batch_size, steps, args.max_length,
                                  args.repeats)
        results.append({"setting": setting, **result})
    base = results[0]
    print(f"\n{'setting':<24} {'trained tok/s':>13} {'x baseline':>10} {'computed tok/s':>14} {'padding':>8} "
          f"{memory:>19} {'x baseline':>10}  dtype")
    for r in results:
        memory_ratio = r["peak MB"] / base["peak MB"] if base["peak MB"] > 0 else float("nan")
        print(f"{r['setting']:<24} {r['trained/s']:>13,.0f} {r['trained/s'] / base['trained/s']:>10.2f} "
              f"{r['computed/s']:>14,.0f} {r['padding']:>8.0%} {r['peak MB']:>19.1f} {memory_ratio:>10.2f}  "
              f"{r['dtype'].removeprefix('torch.')}")
    print(f"\n{base['parameters']:,} parameters. Trained tokens exclude padding; 'padding' is the share of computed "
          "tokens that were padding.")
    if args.device == "cpu":
        print("On a CPU the memory column is the process's resident high-water mark: for a small model it is mostly "
              "the allocator's caches, so read its ratios loosely; a GPU's allocator statistics are exact.")
    return results


if __name__ == "__main__":
    main()
