"""MLE training speed on SeqGAN's shapes: the kit's `GANTrainer.mle_epoch` against TextGAN-PyTorch's, or against the
kit's own older formulations, side by side in one run.

    python benchmarks/mle_speed.py --peer PATH   # against TextGAN-PyTorch (a checkout of williamSYSU/TextGAN-PyTorch)
    python benchmarks/mle_speed.py               # against the kit's older formulations
    python benchmarks/mle_speed.py --quick       # vocabulary 500, length 10, 2,000 sequences: seconds

SeqGAN's generator (LSTM 32/32, vocabulary 5,000, length 20), batch 64, Adam 1e-2, gradients clipped at 5, one epoch
over 10,000 random sequences (MLE's cost does not depend on what the tokens say). Each round runs one epoch of every
contender, in turn and in alternating order, so that load from other processes hits them alike; each epoch is timed
in CPU time of this process (one thread by default: the steadiest on a shared machine) and wall time. Prints trained
tokens per CPU-second of each and the kit's speed over each other's, the median over rounds with every round's.

With ``--peer`` the other contender is TextGAN-PyTorch's own epoch, ``BasicInstructor.train_gen_epoch`` over its
``GenDataIter`` loader, with its ``SeqGAN_G`` and ``nn.NLLLoss``, imported from the folder given (nothing of it is
copied into the kit). Without it, the kit's trainer runs a generator whose ``token_nll`` is an older formulation:
logits divided by the temperature even at 1.0 (a full extra pass over the [B*T, V] logits, forward and backward), and
cross-entropy over logits transposed to [B, V, T].
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from heygen_lib.gan.discriminators import CNNDiscriminator, CNNDiscriminatorConfig  # noqa: E402
from heygen_lib.gan.generators import LSTMGenerator, LSTMGeneratorConfig, flat_cross_entropy  # noqa: E402
from heygen_lib.gan.training import GANTrainer, TrainConfig  # noqa: E402


class DividedByTemperature(LSTMGenerator):
    """The kit's generator as it was before this fix: logits divided by the temperature even at 1.0."""

    def token_nll(self, tokens: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
        return flat_cross_entropy(self(tokens).float() / temperature, tokens)


class Transposed(LSTMGenerator):
    """The kit's first formulation: cross-entropy over logits transposed to [B, V, T] (a strided softmax)."""

    def token_nll(self, tokens: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
        return F.cross_entropy((self(tokens).float() / temperature).transpose(1, 2), tokens, reduction="none")


def kit_epoch(generator_class: type[LSTMGenerator], config: LSTMGeneratorConfig, data: torch.Tensor,
              start: dict) -> Callable[[], int]:
    """One `GANTrainer.mle_epoch` per call; returns the tokens it trained on."""
    generator = generator_class(config)
    generator.load_state_dict(start)
    discriminator = CNNDiscriminator(CNNDiscriminatorConfig(vocab_size=config.vocab_size, max_len=config.max_len,
                                                            filter_widths=(2,), filter_counts=(1,)))
    trainer = GANTrainer(generator, discriminator, data, TrainConfig(batch_size=64))
    return lambda: trainer.mle_epoch() and data.numel()


def peer_epoch(peer: Path, config: LSTMGeneratorConfig, data: torch.Tensor) -> Callable[[], int]:
    """One TextGAN-PyTorch MLE epoch per call (``BasicInstructor.train_gen_epoch``, its loader, loss and clipping,
    on the CPU); returns the tokens it trained on (its loader drops the last partial batch)."""
    sys.path.insert(0, str(peer))
    import config as cfg  # TextGAN-PyTorch's module of settings

    cfg.CUDA = False
    cfg.vocab_size, cfg.max_seq_len, cfg.batch_size = config.vocab_size, config.max_len, 64
    from instructor.oracle_data.instructor import BasicInstructor
    from models.SeqGAN_G import SeqGAN_G
    from utils.data_loader import GenDataIter

    generator = SeqGAN_G(config.embed_dim, config.hidden_dim, config.vocab_size, config.max_len, cfg.padding_idx,
                         gpu=False)
    loader = GenDataIter(data).loader
    criterion, optimizer = torch.nn.NLLLoss(), torch.optim.Adam(generator.parameters(), lr=cfg.gen_lr)
    tokens = len(loader) * loader.batch_size * config.max_len
    return lambda: BasicInstructor.train_gen_epoch(BasicInstructor, generator, loader, criterion, optimizer) and tokens


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peer", type=Path, help="a TextGAN-PyTorch checkout to compare with")
    parser.add_argument("--quick", action="store_true", help="vocabulary 500, length 10, 2,000 sequences")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    vocab, length, rows = (500, 10, 2_000) if args.quick else (5_000, 20, 10_000)
    config = LSTMGeneratorConfig(vocab_size=vocab, max_len=length)
    data = torch.randint(1, vocab, (rows, length), generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    start = LSTMGenerator(config).state_dict()
    contenders = {"kit": kit_epoch(LSTMGenerator, config, data, start)}
    if args.peer:
        contenders["TextGAN-PyTorch"] = peer_epoch(args.peer.resolve(), config, data)
    else:
        contenders["kit, logits / temperature"] = kit_epoch(DividedByTemperature, config, data, start)
        contenders["kit, transposed layout"] = kit_epoch(Transposed, config, data, start)
    print(f"MLE epochs: LSTM 32/32, vocabulary {vocab}, length {length}, batch 64, {rows:,} sequences per epoch, "
          f"{args.rounds} interleaved rounds; torch {torch.__version__}, CPU threads {torch.get_num_threads()}")
    speed: dict[str, list[float]] = {name: [] for name in contenders}
    wall: dict[str, list[float]] = {name: [] for name in contenders}
    for round_number in range(args.rounds):
        order = list(contenders) if round_number % 2 == 0 else list(reversed(contenders))
        for name in order:
            cpu, clock = time.process_time(), time.perf_counter()
            tokens = contenders[name]()
            speed[name].append(tokens / (time.process_time() - cpu))
            wall[name].append(tokens / (time.perf_counter() - clock))
    for name in contenders:
        print(f"  {name:<27} {statistics.median(speed[name]):>9,.0f} tokens/CPU-s  "
              f"{statistics.median(wall[name]):>9,.0f} tokens/s wall")
    ratios = {}
    for name in list(contenders)[1:]:
        rounds = [kit / other for kit, other in zip(speed["kit"], speed[name])]
        ratios[name] = statistics.median(rounds)
        print(f"  kit / {name}: {ratios[name]:.2f}x (CPU time, median of {args.rounds} rounds: "
              f"{', '.join(f'{r:.2f}' for r in rounds)})")
    return {"tokens_per_cpu_second": {k: statistics.median(v) for k, v in speed.items()}, "ratios": ratios}


if __name__ == "__main__":
    main()
