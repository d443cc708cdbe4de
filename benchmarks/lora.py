"""Full fine-tuning vs LoRA: trainable parameters, peak memory and throughput, in one run.

    python benchmarks/lora.py                          # tiny offline GPT-2 on the CPU (about a minute)
    python benchmarks/lora.py --model gpt2-medium      # a hub model, on the GPU when there is one

Both settings train the same model on the same rows (the support set's pairs, `heygen_lib.nlg.rows`) for the same
number of AdamW steps, each in a fresh process so that its peak memory is its own (CUDA:
``torch.cuda.max_memory_allocated``; CPU: growth of the process's peak resident memory over what loading took).
Throughput counts trained tokens (real rows, not padding). Ratios are LoRA over full fine-tuning, measured in the
same run.

What to expect: LoRA removes the gradients and the two Adam moments of every frozen weight (about 3 extra copies of
the model in full fine-tuning), not the activations, which depend on batch and length. For a tiny model the
activations dominate, so memory barely moves; for gpt2-medium (355M parameters, about 5.7 GB of weights, gradients
and Adam state in fp32) the frozen weights' share is what stops a 16 GB GPU, and LoRA takes most of it away.
Per step LoRA still runs the whole forward and backward pass (gradients flow through the frozen layers to reach
the adapters), so it is not faster per token; it computes fewer weight gradients and updates fewer numbers.
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from measuring import fastest_pass, hardware, in_fresh_process, memory_label, peak_mb, reset_peak  # benchmarks/measuring.py, beside this script

SETTINGS = ("full fine-tuning", "LoRA")


def measure(model_name: str | None, setting: str, device: str, rank: int, batch_size: int, steps: int,
            max_length: int, repeats: int) -> dict:
    """One setting, meant to run in a fresh process."""
    from heygen_lib.data import prepare_pairs
    from heygen_lib.nlg.finetune import load_model, tokenizer_texts
    from heygen_lib.nlg.lora import trainable_parameters, with_lora
    from heygen_lib.nlg.rows import collator_for, encode_pairs

    torch.manual_seed(0)
    pairs = prepare_pairs("support").train
    model, tokenizer = load_model(model_name, tokenizer_texts(pairs), device=device)
    total = trainable_parameters(model)[1]
    if setting == "LoRA":
        model = with_lora(model, tokenizer, rank=rank)
    model.train()
    rows, _ = encode_pairs(tokenizer, pairs, max_length)
    collate = collator_for(tokenizer)
    order = torch.randperm(len(rows), generator=torch.Generator().manual_seed(0)).tolist()
    if len(order) < (steps + 1) * batch_size:
        raise ValueError(f"{len(rows)} rows are too few for {steps} steps of {batch_size} plus a warm-up batch")
    batches = [[rows[i] for i in order[s * batch_size : (s + 1) * batch_size]] for s in range(steps + 1)]
    warm_up, batches = batches[-1], batches[:-1]
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)

    def step(batch: list[dict]) -> tuple[int]:
        inputs = {k: v.to(device) for k, v in collate(batch).items()}
        model(**inputs).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return (int(inputs["attention_mask"].sum()),)

    base = reset_peak(device)  # the model and rows are loaded: what follows is training's own memory
    for _ in range(2):  # warm up: allocator, thread pools, kernels, and the optimizer's state
        step(warm_up)
    seconds, (trained,), spread = fastest_pass(step, batches, repeats, device)
    trainable = trainable_parameters(model)[0]
    return {"trainable": trainable, "total": total, "tokens/s": trained / seconds, "spread": spread,
            "peak MB": peak_mb(device) - base}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="hub name or folder (default: the tiny offline GPT-2)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--rank", type=int, default=8, help="LoRA rank r")
    parser.add_argument("--steps", type=int, help="optimizer steps per timed pass (default: 8 CPU, 40 GPU)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=192, help="tokens per row (the smoke profile's 192)")
    parser.add_argument("--repeats", type=int, default=2, help="timed passes per setting; the fastest counts")
    args = parser.parse_args(argv)
    steps = args.steps or (40 if args.device == "cuda" else 8)
    print(f"model {args.model or 'tiny offline GPT-2'} on {hardware(args.device)}; LoRA rank {args.rank}; batch {args.batch_size}, "
          f"max_length {args.max_length}, {steps} AdamW steps per timed pass, best of {args.repeats}; torch "
          f"{torch.__version__}, python {platform.python_version()}")
    results = [{"setting": s, **in_fresh_process(measure, args.model, s, args.device, args.rank, args.batch_size, steps,
                                                 args.max_length, args.repeats)} for s in SETTINGS]
    memory = memory_label(args.device)
    print(f"\n{'setting':<18} {'trainable params':>16} {'share':>7} {memory:>19} {'trained tok/s':>13} "
          f"{'repeat spread':>13}")
    for r in results:
        print(f"{r['setting']:<18} {r['trainable']:>16,} {r['trainable'] / r['total']:>7.2%} {r['peak MB']:>19.1f} "
              f"{r['tokens/s']:>13,.0f} {r['spread']:>13.0%}")
    full, lora = results
    memory_ratio = lora["peak MB"] / full["peak MB"] if full["peak MB"] > 0 else float("nan")
    speed = lora["tokens/s"] / full["tokens/s"]
    noise = max(full["spread"], lora["spread"])  # how much one setting's own passes differed
    verdict = "no difference within that" if abs(1 - speed) <= noise else ("faster" if speed > 1 else "slower")
    print(f"\nLoRA / full: trainable parameters {lora['trainable'] / full['trainable']:.3f}, peak memory "
          f"{memory_ratio:.2f}, tokens/s {speed:.2f} (one setting's repeated passes differ by up to {noise:.0%}: "
          f"{verdict})")
    if args.device == "cpu":
        print("On a CPU the memory column is the process's resident high-water mark, mostly the allocator's caches "
              "for a small model: read its ratio loosely.")
    return results


if __name__ == "__main__":
    main()
