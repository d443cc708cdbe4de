"""Discriminators for text GANs: a CNN (SeqGAN's), an MLP (the seed system's FNN) and an LSTM classifier.

Every discriminator maps a batch of sequences to one logit per sequence, ``forward(x) -> [B]``; the probability
that a sequence is real is ``sigmoid(logit)``. The input is either

- token ids, a LongTensor ``[B, T]``, or
- (soft) one-hot vectors, a FloatTensor ``[B, T, V]``: Gumbel-softmax samples from a generator. They are embedded
  as ``x @ embedding.weight``, a weighted mix of token embeddings, so gradients flow back to the generator.

An exact one-hot and its ids give the same embedding, hence the same logit. (On a GPU that allows TF32 matmuls,
``torch.backends.cuda.matmul.allow_tf32 = True``, the one-hot path rounds the embedding table and the two differ in
the fourth significant digit; PyTorch leaves TF32 off for matmuls by default.)

SeqGAN (Yu et al. 2017) replaces its two-way softmax with one logit here: ``softmax([a, b])[1] == sigmoid(b - a)``,
so the two are the same model with one fewer output.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

# SeqGAN's discriminator (LantaoYu/SeqGAN, sequence_gan.py) for its benchmark, vocabulary 5,000 and length 20:
# embedding 64, these filter widths and counts (1,720 features), a highway layer, dropout 0.25 (keep 0.75).
SEQGAN_FILTER_WIDTHS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20)
SEQGAN_FILTER_COUNTS = (100, 200, 200, 200, 200, 100, 100, 100, 100, 100, 160, 160)


def embed_tokens(x: torch.Tensor, embedding: nn.Embedding) -> torch.Tensor:
    """Embed ids [B,T] by lookup, or (soft) one-hots [B,T,V] as ``x @ embedding.weight``; returns [B,T,E]."""
    vocab_size = embedding.num_embeddings
    if x.is_floating_point():
        if x.dim() != 3 or x.size(-1) != vocab_size:
            raise ValueError(f"one-hot input must be [B, T, {vocab_size}], got {list(x.shape)}")
        return x.to(embedding.weight.dtype) @ embedding.weight
    if x.dim() != 2:
        raise ValueError(f"token ids must be [B, T], got {list(x.shape)}")
    return embedding(x)


# ---------------------------------------------------------------------------------------------------------------
# CNN discriminator (SeqGAN)
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class CNNDiscriminatorConfig:
    """A SeqGAN-style CNN, smaller by default: 4 widths x 64 filters (256 features) instead of SeqGAN's 1,720.

    For SeqGAN's own network pass ``filter_widths=SEQGAN_FILTER_WIDTHS, filter_counts=SEQGAN_FILTER_COUNTS``.
    A filter wider than ``max_len`` is narrowed to ``max_len`` (it then looks at the whole sequence), so the number
    of features, and the network's shape, do not depend on the sequence length.
    """

    vocab_size: int = 5000
    max_len: int = 20  # T; only used to narrow filters wider than the sequence
    embed_dim: int = 64  # SeqGAN: 64
    filter_widths: Sequence[int] = (2, 3, 4, 5)  # n-gram sizes each bank of filters looks at
    filter_counts: Sequence[int] = (64, 64, 64, 64)  # filters per width
    dropout: float = 0.25  # before the output layer; SeqGAN keeps 0.75
    # "separate": gate and transform are two linear layers (SeqGAN's TensorFlow code); "shared": one linear layer
    # feeds both (TextGAN-PyTorch's SeqGAN discriminator), half the highway's parameters and cost.
    highway: str = "separate"


def cnn_config(name: str, vocab_size: int, max_len: int) -> CNNDiscriminatorConfig:
    """A named CNN discriminator configuration:

    - ``"seqgan"``: SeqGAN's filter banks (12 widths, 1,720 features, embedding 64) with a shared highway layer,
      4.08M parameters at vocabulary 5,000: the parameter count of the SeqGAN discriminator in TextGAN-PyTorch
      (``models/SeqGAN_D.py``), the peer the kit is measured against;
    - ``"seqgan_wide"``: the same with separate gate and transform layers, as LantaoYu/SeqGAN's ``discriminator.py``
      writes its highway (7.04M parameters; the extra 2.96M cost about a fifth of each forward pass);
    - ``"small"``: the kit's default, 4 widths x 64 filters, for CPU runs.
    """
    if name == "small":
        return CNNDiscriminatorConfig(vocab_size=vocab_size, max_len=max_len)
    if name in ("seqgan", "seqgan_wide"):
        return CNNDiscriminatorConfig(vocab_size=vocab_size, max_len=max_len, filter_widths=SEQGAN_FILTER_WIDTHS,
                                      filter_counts=SEQGAN_FILTER_COUNTS,
                                      highway="shared" if name == "seqgan" else "separate")
    raise ValueError(f"unknown CNN configuration {name!r}; choose 'seqgan', 'seqgan_wide' or 'small'")


class Highway(nn.Module):
    """One highway layer (Srivastava et al. 2015): ``t * relu(W h) + (1 - t) * h`` with gate ``t = sigmoid(W_t h)``.

    The gate lets each feature either be transformed or pass through unchanged. ``shared=True`` uses one layer for
    both, ``z = W h``: ``t = sigmoid(z)``, transform ``relu(z)`` (TextGAN-PyTorch's form).
    """

    def __init__(self, size: int, shared: bool = False):
        super().__init__()
        self.transform = nn.Linear(size, size)
        self.gate = None if shared else nn.Linear(size, size)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        z = self.transform(h)
        t = torch.sigmoid(z if self.gate is None else self.gate(h))
        return t * F.relu(z) + (1.0 - t) * h


class CNNDiscriminator(nn.Module):
    """Embedding -> parallel 1-D convolutions (one bank per width) -> ReLU -> max over time -> highway -> dropout ->
    one logit. Max-over-time pooling keeps, for each filter, how strongly its n-gram pattern occurs anywhere.

    SeqGAN and TextGAN-PyTorch write each bank as a 2-D convolution over the [T, E] "image" with kernels
    [w, E]; that is the same function, and `benchmarks/rollout_rewards.py` times both forms on the same weights:
    on the kit's CPU the 1-D form used here was the faster one (see notebooks/results/03_text_gans_full.md)."""

    def __init__(self, config: CNNDiscriminatorConfig):
        super().__init__()
        if len(config.filter_widths) != len(config.filter_counts):
            raise ValueError("filter_widths and filter_counts must have the same length")
        if config.highway not in ("separate", "shared"):
            raise ValueError(f"highway must be 'separate' or 'shared', got {config.highway!r}")
        self.config = config
        self.widths = [min(int(w), config.max_len) for w in config.filter_widths]
        self.embedding = nn.Embedding(config.vocab_size, config.embed_dim)
        self.convs = nn.ModuleList(
            nn.Conv1d(config.embed_dim, int(n), kernel_size=w) for w, n in zip(self.widths, config.filter_counts)
        )
        n_features = sum(int(n) for n in config.filter_counts)
        self.highway = Highway(n_features, shared=config.highway == "shared")
        self.dropout = nn.Dropout(config.dropout)
        self.out = nn.Linear(n_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e = embed_tokens(x, self.embedding).transpose(1, 2)  # [B, E, T]: Conv1d wants channels first
        if e.size(-1) < max(self.widths):
            # Input shorter than a filter: pad with zero vectors on the right so every filter sees one window.
            e = F.pad(e, (0, max(self.widths) - e.size(-1)))
        # Each bank: [B, n_filters, T - w + 1] -> max over time -> [B, n_filters].
        pooled = [F.relu(conv(e)).amax(dim=-1) for conv in self.convs]
        h = self.highway(torch.cat(pooled, dim=-1))  # [B, n_features]
        return self.out(self.dropout(h)).squeeze(-1)  # [B]


# ---------------------------------------------------------------------------------------------------------------
# MLP discriminator (the seed system's FNN)
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class MLPDiscriminatorConfig:
    """A feed-forward classifier over token embeddings.

    ``pool="flatten"`` (default) concatenates the T embeddings, so the network sees word order, and the input must
    be exactly ``max_len`` long. ``pool="mean"`` averages them: a bag of words that cannot tell a sentence from its
    shuffle, which is a useful lesson on what a discriminator can and cannot detect.
    """

    vocab_size: int = 5000
    max_len: int = 20  # T; the flattened input has max_len * embed_dim values
    embed_dim: int = 64
    hidden_dims: Sequence[int] = (256, 128)  # widths of the hidden layers, in order
    dropout: float = 0.25  # after every hidden layer
    pool: str = "flatten"  # "flatten" (order-aware) or "mean" (bag of words)


class MLPDiscriminator(nn.Module):
    """Embedding -> flatten (or mean over time) -> [Linear -> ReLU -> dropout] per hidden layer -> one logit."""

    def __init__(self, config: MLPDiscriminatorConfig):
        super().__init__()
        if config.pool not in ("flatten", "mean"):
            raise ValueError(f"pool must be 'flatten' or 'mean', got {config.pool!r}")
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embed_dim)
        width = config.embed_dim * (config.max_len if config.pool == "flatten" else 1)
        layers: list[nn.Module] = []
        for hidden in config.hidden_dims:
            layers += [nn.Linear(width, int(hidden)), nn.ReLU(), nn.Dropout(config.dropout)]
            width = int(hidden)
        self.hidden = nn.Sequential(*layers)
        self.out = nn.Linear(width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e = embed_tokens(x, self.embedding)  # [B, T, E]
        if self.config.pool == "mean":
            h = e.mean(dim=1)  # [B, E]
        else:
            if e.size(1) != self.config.max_len:
                raise ValueError(f"pool='flatten' needs sequences of length {self.config.max_len}, got {e.size(1)}")
            h = e.flatten(1)  # [B, T * E]
        return self.out(self.hidden(h)).squeeze(-1)  # [B]


# ---------------------------------------------------------------------------------------------------------------
# LSTM discriminator
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class LSTMDiscriminatorConfig:
    """A recurrent classifier: reads the whole sequence (both ways by default) and judges it.

    ``readout="last"`` uses the final hidden state of each direction (forward: after the last token; backward:
    after the first); ``readout="mean"`` averages the outputs over time.
    """

    vocab_size: int = 5000
    embed_dim: int = 64
    hidden_dim: int = 64  # per direction
    num_layers: int = 1
    bidirectional: bool = True
    readout: str = "last"  # "last" or "mean"
    dropout: float = 0.25  # before the output layer (and between LSTM layers when num_layers > 1)


class LSTMDiscriminator(nn.Module):
    """Embedding -> (bi)LSTM -> last hidden state (or mean over time) -> dropout -> one logit.

    On CUDA, cuDNN's LSTM has no double backward, so the WGAN gradient penalty through this discriminator needs
    ``with torch.backends.cudnn.flags(enabled=False):``; cuDNN also refuses backward in eval mode.
    """

    def __init__(self, config: LSTMDiscriminatorConfig):
        super().__init__()
        if config.readout not in ("last", "mean"):
            raise ValueError(f"readout must be 'last' or 'mean', got {config.readout!r}")
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embed_dim)
        self.lstm = nn.LSTM(
            config.embed_dim,
            config.hidden_dim,
            num_layers=config.num_layers,
            bidirectional=config.bidirectional,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            batch_first=True,
        )
        directions = 2 if config.bidirectional else 1
        self.dropout = nn.Dropout(config.dropout)
        self.out = nn.Linear(directions * config.hidden_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e = embed_tokens(x, self.embedding)  # [B, T, E]
        outputs, (h_n, _) = self.lstm(e)  # outputs [B, T, D*H]; h_n [layers*D, B, H]
        if self.config.readout == "mean":
            h = outputs.mean(dim=1)  # [B, D*H]
        else:
            directions = 2 if self.config.bidirectional else 1
            h = h_n[-directions:].transpose(0, 1).flatten(1)  # last layer, every direction: [B, D*H]
        return self.out(self.dropout(h)).squeeze(-1)  # [B]
