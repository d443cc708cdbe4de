"""Seconds per SeqGAN reward computation: the kit's vectorised Monte-Carlo rollouts against TextGAN-PyTorch's, or
against the common per-step implementation the kit started from.

    python benchmarks/rollout_rewards.py --peer PATH  # against TextGAN-PyTorch (a checkout of its repository)
    python benchmarks/rollout_rewards.py            # against the per-step reference: batch 64, length 20,
                                                    # 16 rollouts, vocabulary 5,000, LSTM 32/32, the "seqgan" CNN
    python benchmarks/rollout_rewards.py --quick    # small sizes, seconds
    python benchmarks/rollout_rewards.py --device cuda --batch-size 0   # GPU, everything in one batch

With ``--peer``: TextGAN-PyTorch's ``ROLLOUT.get_reward`` (its ``SeqGAN_G`` holding the kit generator's weights)
and the kit's `rollout_rewards`, each with the same discriminator, once with TextGAN-PyTorch's ``SeqGAN_D`` and
once with the kit's ``cnn_config("seqgan")`` CNN (both 4.08M parameters), each reading the other's output through a
one-line adapter (two-class logits <-> one logit). CPU time of this process, one thread by default, interleaved
rounds in alternating order; prints seconds per reward computation and the kit's speed-up over the peer, the
median over rounds with every round's. Nothing of TextGAN-PyTorch is copied into the kit: it is imported from PATH.

Without ``--peer``:

Both implementations (`heygen_lib.gan.rewards`) run in the same invocation on the same models and samples, each
measurement in a fresh process so that its peak memory is its own (CPU: growth of the process's peak resident
memory over what the models and samples took; CUDA: ``torch.cuda.max_memory_allocated``). "generator" times the
same computation with a discriminator that costs nothing, so the discriminator's share is the difference. Last,
the discriminator's filter banks run in both layouts the field uses (Conv1d here, Conv2d in TextGAN-PyTorch) on the
same weights, and the ratio is printed.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
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
    discriminator: str = "seqgan"  # a `heygen_lib.gan.discriminators.cnn_config` name
    batch_size: int | None = 4096  # rollout_rewards(batch_size=...); None: all completions at once
    repeats: int = 3  # timed runs of the fast version (the reference runs once)
    threads: int | None = None  # torch CPU threads in each measuring process (None: torch's choice)


QUICK = Setting(batch=16, length=10, rollouts=4, vocab=500, discriminator="small", batch_size=None, repeats=3)
QUICK_PEER = Setting(batch=16, length=20, rollouts=4, vocab=500, batch_size=None)  # SeqGAN_D's filters need 20


class FreeDiscriminator(nn.Module):
    """Costs nothing: isolates the generator's share of a reward computation."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros(x.size(0), device=x.device)


def build(setting: Setting, device: str) -> tuple[nn.Module, nn.Module, torch.Tensor, str]:
    from heygen_lib.gan.discriminators import CNNDiscriminator, cnn_config
    from heygen_lib.gan.generators import LSTMGenerator, LSTMGeneratorConfig

    torch.manual_seed(0)
    gen = LSTMGenerator(
        LSTMGeneratorConfig(
            vocab_size=setting.vocab, max_len=setting.length, embed_dim=setting.embed_dim, hidden_dim=setting.hidden_dim
        )
    ).to(device)
    disc = CNNDiscriminator(cnn_config(setting.discriminator, setting.vocab, setting.length))
    n_params = sum(p.numel() for p in disc.parameters())
    name = f"CNNDiscriminator {setting.discriminator!r} ({n_params / 1e6:.2f}M parameters)"
    gen.eval()
    disc.to(device).eval()
    samples = gen.sample(setting.batch, generator=torch.Generator(device).manual_seed(1))
    return gen, disc, samples, name


class Conv2dBanks(nn.Module):
    """The CNN's filter banks as TextGAN-PyTorch writes them: ``Conv2d(1, n, (w, E))`` over the [T, E] "image",
    holding the same weights as the kit's ``Conv1d(E, n, w)``."""

    def __init__(self, disc: nn.Module):
        super().__init__()
        self.convs = nn.ModuleList()
        for conv in disc.convs:
            c2 = nn.Conv2d(1, conv.out_channels, (conv.kernel_size[0], conv.in_channels))
            c2.weight.data.copy_(conv.weight.data.transpose(1, 2).unsqueeze(1))  # [n, E, w] -> [n, 1, w, E]
            c2.bias.data.copy_(conv.bias.data)
            self.convs.append(c2)

    def forward(self, e: torch.Tensor) -> torch.Tensor:  # e [N, T, E]
        x = e.unsqueeze(1)
        return torch.cat([torch.relu(c(x)).squeeze(-1).amax(-1) for c in self.convs], -1)


def conv_forms(setting: Setting, device: str, n: int = 2048, repeats: int = 5) -> dict:
    """Seconds for the discriminator's filter banks on `n` rollout-sized inputs: Conv1d (the kit) vs Conv2d
    (TextGAN-PyTorch), same weights, interleaved, CPU time on a CPU; checks that both give the same features."""
    _, disc, _, _ = build(setting, device)
    twin = Conv2dBanks(disc).to(device)
    e = torch.randn(n, setting.length, disc.config.embed_dim, device=device)
    clock = time.process_time if device == "cpu" else time.perf_counter

    def conv1d():
        x = e.transpose(1, 2)
        return torch.cat([torch.relu(c(x)).amax(-1) for c in disc.convs], -1)

    with torch.no_grad():
        torch.testing.assert_close(conv1d(), twin(e), rtol=1e-4, atol=1e-4)
        times: dict[str, list[float]] = {"conv1d": [], "conv2d": []}
        for _ in range(repeats):
            for name, f in (("conv1d", conv1d), ("conv2d", lambda: twin(e))):
                start = clock()
                f()
                _sync(device)
                times[name].append(clock() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def measure(setting: Setting, device: str, method: str, free_discriminator: bool) -> dict:
    """One measurement, meant to run in a fresh process: seconds per reward computation and peak memory."""
    from heygen_lib.gan.rewards import rollout_rewards, rollout_rewards_reference

    if setting.threads:
        torch.set_num_threads(setting.threads)
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


class TwoClassAsLogit(nn.Module):
    """A two-class discriminator (softmax over [fake, real], TextGAN-PyTorch's) as one logit: the same P(real)."""

    def __init__(self, discriminator: nn.Module):
        super().__init__()
        self.discriminator = discriminator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.discriminator(x)
        return out[:, 1] - out[:, 0]


class LogitAsTwoClass(nn.Module):
    """A one-logit discriminator (the kit's) as two-class logits [0, logit]: softmax(...)[:, 1] is sigmoid(logit)."""

    def __init__(self, discriminator: nn.Module):
        super().__init__()
        self.discriminator = discriminator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logit = self.discriminator(x)
        return torch.stack([torch.zeros_like(logit), logit], dim=-1)


def peer_contenders(peer: Path, setting: Setting) -> dict[str, dict[str, Callable[[], torch.Tensor]]]:
    """{discriminator: {"kit": rewards(), "TextGAN-PyTorch": rewards()}}, each call one reward computation."""
    sys.path.insert(0, str(peer))
    import config as cfg  # TextGAN-PyTorch's module of settings

    cfg.CUDA = False
    cfg.vocab_size, cfg.max_seq_len = setting.vocab, setting.length
    from models.SeqGAN_D import SeqGAN_D
    from models.SeqGAN_G import SeqGAN_G
    from utils.rollout import ROLLOUT

    from heygen_lib.gan.rewards import rollout_rewards

    gen, kit_disc, samples, _ = build(setting, "cpu")
    peer_gen = SeqGAN_G(setting.embed_dim, setting.hidden_dim, setting.vocab, setting.length, cfg.padding_idx)
    names = {"embedding.weight": "embeddings.weight", "head.weight": "lstm2out.weight", "head.bias": "lstm2out.bias"}
    peer_gen.load_state_dict({names.get(k, k): v for k, v in gen.state_dict().items()})  # the same generator
    peer_disc = SeqGAN_D(64, setting.vocab, cfg.padding_idx).eval()
    rollout = ROLLOUT(peer_gen, gpu=False)
    pairs = {"TextGAN-PyTorch's SeqGAN_D": (TwoClassAsLogit(peer_disc), peer_disc),
             f"the kit's {setting.discriminator!r} CNN": (kit_disc, LogitAsTwoClass(kit_disc))}
    return {name: {"kit": lambda d=kit_side: rollout_rewards(gen, d, samples, setting.rollouts),
                   "TextGAN-PyTorch": lambda d=peer_side: rollout.get_reward(samples, setting.rollouts, d)}
            for name, (kit_side, peer_side) in pairs.items()}


def against_peer(peer: Path, setting: Setting, rounds: int) -> dict:
    """Both discriminators, kit and peer interleaved in alternating order; CPU seconds per reward computation."""
    contenders = peer_contenders(peer.resolve(), setting)
    print(f"reward computation: batch {setting.batch}, length {setting.length}, {setting.rollouts} rollouts, "
          f"vocabulary {setting.vocab}, LSTM {setting.embed_dim}/{setting.hidden_dim}; {rounds} interleaved rounds; "
          f"torch {torch.__version__}, CPU threads {torch.get_num_threads()}")
    results = {}
    for name, sides in contenders.items():
        seconds: dict[str, list[float]] = {side: [] for side in sides}
        for round_number in range(rounds):
            for side in (sides if round_number % 2 == 0 else reversed(list(sides))):
                start = time.process_time()
                sides[side]()
                seconds[side].append(time.process_time() - start)
        ratios = [p / k for k, p in zip(seconds["kit"], seconds["TextGAN-PyTorch"])]
        ratio = statistics.median(ratios)
        print(f"  discriminator {name}: kit {statistics.median(seconds['kit']):.2f} CPU-s, TextGAN-PyTorch "
              f"{statistics.median(seconds['TextGAN-PyTorch']):.2f} CPU-s per reward computation; kit "
              f"{ratio:.2f}x faster (rounds: {', '.join(f'{r:.2f}' for r in ratios)})")
        results[name] = {"seconds": seconds, "ratio": ratio}
    return results


def score_rows(setting: Setting, rows: tuple[int, ...] = (256, 1024, 4096), repeats: int = 3) -> dict[int, float]:
    """CPU seconds for the kit's discriminator to score one reward computation's completions, by rows per call."""
    _, disc, _, _ = build(setting, "cpu")
    n = setting.rollouts * (setting.length - 1) * setting.batch
    x = torch.randint(setting.vocab, (n, setting.length), generator=torch.Generator().manual_seed(0))
    times: dict[int, list[float]] = {r: [] for r in rows}
    with torch.no_grad():
        for _ in range(repeats):
            for r in rows:
                start = time.process_time()
                for chunk in x.split(r):
                    disc(chunk)
                times[r].append(time.process_time() - start)
    return {r: statistics.median(t) for r, t in times.items()}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peer", type=Path, help="a TextGAN-PyTorch checkout to compare with (CPU, one thread)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds against the peer")
    parser.add_argument("--score-rows", action="store_true",
                        help="time the discriminator's scoring by rows per call (the CPU default SCORE_ROWS)")
    parser.add_argument("--quick", action="store_true", help="small sizes (batch 16, length 10, 4 rollouts, V 500)")
    parser.add_argument("--device", choices=["cpu", "cuda", "all"], default="all", help="default: CPU, and CUDA if any")
    parser.add_argument("--batch-size", type=int, help="rollout_rewards batch_size; 0 means None (all at once)")
    parser.add_argument("--repeats", type=int, help="timed runs of the fast version (median reported)")
    parser.add_argument("--skip-reference", action="store_true", help="time only the fast version")
    parser.add_argument("--discriminator", choices=["seqgan", "seqgan_wide", "small"], help="CNN configuration")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    setting = (QUICK_PEER if args.peer else QUICK) if args.quick else Setting()
    if args.peer or args.score_rows:
        torch.set_num_threads(args.threads or 1)
        if args.score_rows:
            times = score_rows(setting)
            print(f"discriminator {setting.discriminator!r} scoring {setting.rollouts * (setting.length - 1) * setting.batch:,} "
                  "completions, CPU seconds by rows per call: " + ", ".join(f"{r}: {t:.2f}" for r, t in times.items()))
            return {"score_rows": times}
        return against_peer(args.peer, setting, args.rounds)
    if args.batch_size is not None:
        setting.batch_size = args.batch_size or None
    if args.repeats:
        setting.repeats = args.repeats
    if args.discriminator:
        setting.discriminator = args.discriminator
    if args.threads:
        torch.set_num_threads(args.threads)
        setting.threads = args.threads
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
        forms = conv_forms(setting, device)
        print(f"  filter banks, Conv1d (kit) vs Conv2d (TextGAN-PyTorch), same weights: {forms['conv1d']:.3f} s vs "
              f"{forms['conv2d']:.3f} s; Conv2d / Conv1d = {forms['conv2d'] / forms['conv1d']:.2f}")
        summary["filter_banks_seconds"] = forms
        results["devices"][device] = {"hardware": label, **summary}
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
