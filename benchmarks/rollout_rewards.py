"""Seconds per SeqGAN reward computation: vectorised Monte-Carlo rollouts vs the common per-step implementation.

    python benchmarks/rollout_rewards.py            # the issue's setting: batch 64, length 20, 16 rollouts,
                                                    # vocabulary 5,000, LSTM 32/32, SeqGAN's CNN discriminator
    python benchmarks/rollout_rewards.py --quick    # small sizes, seconds
    python benchmarks/rollout_rewards.py --device cuda --batch-size 0   # GPU, everything in one batch

Both implementations (`heygen_lib.gan.rewards`) run in the same invocation on the same models and samples, each
measurement in a fresh process so that its peak memory is its own (CPU: growth of the process's peak resident
memory over what the models and samples took; CUDA: ``torch.cuda.max_memory_allocated``). "generator" times the
same computation with a discriminator that costs nothing, so the discriminator's share is the difference.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from measuring import in_fresh_process, peak_mb, reset_peak  # benchmarks/measuring.py, beside this script


@dataclass
class Setting:
    batch: int = 64
    length: int = 20
    rollouts: int = 16
    vocab: int = 5000
    embed_dim: int = 32
    hidden_dim: int = 32
    seqgan_cnn: bool = True  # SeqGAN's 12 filter widths and 1,720 filters; False: the kit's smaller default CNN
    batch_size: int | None = 4096  # rollout_rewards(batch_size=...); None: all completions at once
    repeats: int = 3  # timed runs of the fast version (the reference runs once)


QUICK = Setting(batch=16, length=10, rollouts=4, vocab=500, seqgan_cnn=False, batch_size=None, repeats=3)


class FreeDiscriminator(nn.Module):
    """Costs nothing: isolates the generator's share of a reward computation."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros(x.size(0), device=x.device)


class StandInCNN(nn.Module):
    """Used only if heygen_lib.gan.discriminators is missing: SeqGAN's convolution banks, nothing else."""

    def __init__(self, vocab: int, widths, counts, length: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab, 64)
        self.convs = nn.ModuleList(nn.Conv1d(64, n, min(w, length)) for w, n in zip(widths, counts))
        self.out = nn.Linear(sum(counts), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e = self.embedding(x).transpose(1, 2)
        return self.out(torch.cat([torch.relu(c(e)).amax(-1) for c in self.convs], -1)).squeeze(-1)


def build(setting: Setting, device: str) -> tuple[nn.Module, nn.Module, torch.Tensor, str]:
    from heygen_lib.gan.generators import LSTMGenerator, LSTMGeneratorConfig

    torch.manual_seed(0)
    gen = LSTMGenerator(
        LSTMGeneratorConfig(
            vocab_size=setting.vocab, max_len=setting.length, embed_dim=setting.embed_dim, hidden_dim=setting.hidden_dim
        )
    ).to(device)
    widths = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20)
    counts = (100, 200, 200, 200, 200, 100, 100, 100, 100, 100, 160, 160)
    try:
        from heygen_lib.gan import discriminators as d

        if setting.seqgan_cnn:
            config = d.CNNDiscriminatorConfig(
                vocab_size=setting.vocab,
                max_len=setting.length,
                filter_widths=d.SEQGAN_FILTER_WIDTHS,
                filter_counts=d.SEQGAN_FILTER_COUNTS,
            )
            name = "CNNDiscriminator, SeqGAN's (12 widths, 1,720 filters, highway)"
        else:
            config = d.CNNDiscriminatorConfig(vocab_size=setting.vocab, max_len=setting.length)
            name = "CNNDiscriminator, kit default (4 widths, 256 filters, highway)"
        disc = d.CNNDiscriminator(config)
    except ImportError:
        if not setting.seqgan_cnn:
            widths, counts = (2, 3, 4, 5), (64, 64, 64, 64)
        disc = StandInCNN(setting.vocab, widths, counts, setting.length)
        name = f"stand-in CNN ({len(widths)} widths, {sum(counts)} filters; heygen_lib.gan.discriminators missing)"
    gen.eval()
    disc.to(device).eval()
    samples = gen.sample(setting.batch, generator=torch.Generator(device).manual_seed(1))
    return gen, disc, samples, name


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def measure(setting: Setting, device: str, method: str, free_discriminator: bool) -> dict:
    """One measurement, meant to run in a fresh process: seconds per reward computation and peak memory."""
    from heygen_lib.gan.rewards import rollout_rewards, rollout_rewards_reference

    gen, disc, samples, name = build(setting, device)
    if free_discriminator:
        disc = FreeDiscriminator()
    if method == "fast":
        def run():
            return rollout_rewards(gen, disc, samples, setting.rollouts, batch_size=setting.batch_size)

        rollout_rewards(gen, disc, samples[:2], 1)  # warm up (thread pools, kernels)
        repeats = setting.repeats
    else:
        def run():
            return rollout_rewards_reference(gen, disc, samples, setting.rollouts)

        repeats = 1
    base = reset_peak(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        rewards = run()
        _sync(device)
        times.append(time.perf_counter() - start)
    assert rewards.shape == (setting.batch, setting.length)
    peak = peak_mb(device) - base
    return {"seconds": statistics.median(times), "all_seconds": times, "peak_mb": peak, "discriminator": name}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (batch 16, length 10, 4 rollouts, V 500)")
    parser.add_argument("--device", choices=["cpu", "cuda", "all"], default="all", help="default: CPU, and CUDA if any")
    parser.add_argument("--batch-size", type=int, help="rollout_rewards batch_size; 0 means None (all at once)")
    parser.add_argument("--repeats", type=int, help="timed runs of the fast version (median reported)")
    parser.add_argument("--skip-reference", action="store_true", help="time only the fast version")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    setting = QUICK if args.quick else Setting()
    if args.batch_size is not None:
        setting.batch_size = args.batch_size or None
    if args.repeats:
        setting.repeats = args.repeats
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    devices = [d for d in devices if d == "cpu" or torch.cuda.is_available()]

    print(
        f"reward computation: batch {setting.batch}, length {setting.length}, {setting.rollouts} rollouts, "
        f"vocabulary {setting.vocab}, LSTM generator {setting.embed_dim}/{setting.hidden_dim}, "
        f"fast batch_size={setting.batch_size}"
    )
    print(f"torch {torch.__version__}, python {platform.python_version()}, CPU threads {torch.get_num_threads()}")
    results: dict = {"setting": asdict(setting), "devices": {}}
    for device in devices:
        label = torch.cuda.get_device_name(0) if device == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
        rows = {}
        methods = ["fast"] if args.skip_reference else ["fast", "reference"]
        for method in methods:
            for free in (False, True):
                rows[(method, free)] = in_fresh_process(measure, setting, device, method, free)
        name = rows[("fast", False)]["discriminator"]
        print(f"\n{device}: {label}; discriminator: {name}")
        header = f"{'s/reward computation':>21} {'generator s':>12} {'discriminator s':>16} {'peak MB':>9}"
        print(f"  {'method':<10} {header}")
        for method in methods:
            total, gen_only = rows[(method, False)], rows[(method, True)]
            print(
                f"  {method:<10} {total['seconds']:>21.3f} {gen_only['seconds']:>12.3f} "
                f"{total['seconds'] - gen_only['seconds']:>16.3f} {total['peak_mb']:>9.0f}"
            )
        summary = {f"{m}{'_generator_only' if free else ''}": r for (m, free), r in rows.items()}
        if not args.skip_reference:
            ratio = rows[("fast", False)]["seconds"] / rows[("reference", False)]["seconds"]
            gen_ratio = rows[("fast", True)]["seconds"] / rows[("reference", True)]["seconds"]
            print(f"  ratio fast/reference: {ratio:.3f} ({1 / ratio:.1f}x faster); generator side {gen_ratio:.3f} "
                  f"({1 / gen_ratio:.1f}x faster)")
            summary["ratio_fast_over_reference"] = ratio
            summary["ratio_generator_side"] = gen_ratio
        results["devices"][device] = {"hardware": label, **summary}
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
