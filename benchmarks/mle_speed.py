"""MLE training speed: the kit's flattened cross-entropy against the transposed layout it replaced, same run.

    python benchmarks/mle_speed.py             # SeqGAN's generator: vocabulary 5,000, LSTM 32/32, length 20, batch 64
    python benchmarks/mle_speed.py --quick     # seconds

Both formulations train the same LSTM from the same weights on the same batches (Adam 1e-2, clip 5), interleaved
in rounds so that load from other processes hits both alike; each round times `--batches` updates of each in CPU
time (process time) and wall time. Prints training tokens/s of each and the ratio new / old (the median over rounds).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from heygen_lib.gan.generators import LSTMGenerator, LSTMGeneratorConfig  # noqa: E402


def transposed_nll(generator: LSTMGenerator, tokens: torch.Tensor) -> torch.Tensor:
    """The formulation before the speed fix: cross-entropy over logits transposed to [B, V, T]."""
    return F.cross_entropy(generator(tokens).float().transpose(1, 2), tokens, reduction="none").mean(dim=1)


def time_updates(nll, generator: LSTMGenerator, batches: list[torch.Tensor]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) for one Adam update per batch with loss ``nll(batch).mean()``."""
    optimizer = torch.optim.Adam(generator.parameters(), lr=1e-2)
    cpu, wall = time.process_time(), time.perf_counter()
    for batch in batches:
        loss = nll(batch).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(generator.parameters(), 5.0)
        optimizer.step()
    return time.process_time() - cpu, time.perf_counter() - wall


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="vocabulary 500, length 10, fewer batches")
    parser.add_argument("--batches", type=int, default=40, help="updates per formulation per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice); 1 is steadiest "
                        "on a shared machine")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    vocab, length, batches = (500, 10, 10) if args.quick else (5000, 20, args.batches)
    config = LSTMGeneratorConfig(vocab_size=vocab, max_len=length)
    torch.manual_seed(0)
    data = [torch.randint(vocab, (64, length)) for _ in range(batches)]
    start = LSTMGenerator(config).state_dict()
    tokens = batches * 64 * length
    print(f"MLE updates: LSTM 32/32, vocabulary {vocab}, length {length}, batch 64, {batches} updates x "
          f"{args.rounds} rounds; torch {torch.__version__}, CPU threads {torch.get_num_threads()}")
    results: dict[str, list[tuple[float, float]]] = {"transposed (old)": [], "flattened (kit)": []}
    for _ in range(args.rounds):
        for name, nll in (("transposed (old)", transposed_nll), ("flattened (kit)", LSTMGenerator.nll)):
            generator = LSTMGenerator(config)
            generator.load_state_dict(start)
            results[name].append(time_updates(lambda b: nll(generator, b), generator, data))
    for name, times in results.items():
        cpu = statistics.median(t[0] for t in times)
        wall = statistics.median(t[1] for t in times)
        print(f"  {name:<17} {tokens / cpu:>10.0f} tokens/CPU-s  {tokens / wall:>10.0f} tokens/s wall")
    ratios = [old[0] / new[0] for old, new in zip(results["transposed (old)"], results["flattened (kit)"])]
    ratio = statistics.median(ratios)
    print(f"  speed-up flattened / transposed (CPU time, median of {args.rounds} rounds): {ratio:.2f}x "
          f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)})")
    return {"ratio": ratio, "rounds": ratios}


if __name__ == "__main__":
    main()
