"""A pair discriminator: is this response real *for this context*?

A response-only discriminator (notebook 03's) can only learn what responses look like; a fluent reply to the wrong
question passes it. This one reads both sides, each with its own n-gram encoder, and compares them with the
features of natural-language-inference models (Conneau et al. 2017, InferSent): ``[c, r, c * r, |c - r|]`` ->
MLP -> one logit. ``sigmoid(logit)`` is the probability that the pair is real.

The encoders are convolutions over word embeddings, one bank of filters per n-gram width, max-pooled over the
real positions (SeqGAN's discriminator is built the same way). Filters of width 2 and more see word order, which
the reversed negatives test. Li et al. 2017 used a hierarchical recurrent encoder; on the kit's CPU budget a
bidirectional LSTM learned no better per step and ran three times slower, so the kit uses convolutions.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from heygen_lib.dialogue_gan.data import PAD_ID, response_lengths
from heygen_lib.torch_utils import eval_mode


@dataclass
class PairDiscriminatorConfig:
    """Sizes of the pair discriminator."""

    vocab_size: int = 4000
    embed_dim: int = 64  # one embedding table for context and response
    filters: int = 64  # filters per n-gram width, per encoder
    widths: tuple[int, ...] = (1, 2, 3)  # n-gram widths the filters look at
    mlp_dim: int = 128  # the hidden layer of the classifier
    dropout: float = 0.2  # on embeddings and in the classifier


class NGramEncoder(nn.Module):
    """[B, S, E] embeddings of sequences with `lengths` -> [B, filters * len(widths)] features: for each filter, its
    strongest response over the windows that touch a real (non-padding) position."""

    def __init__(self, embed_dim: int, filters: int, widths: tuple[int, ...]):
        super().__init__()
        self.widths = tuple(widths)
        # padding w - 1 on both sides: sequences shorter than a filter still give it windows
        self.convs = nn.ModuleList(nn.Conv1d(embed_dim, filters, w, padding=w - 1) for w in self.widths)

    def forward(self, embedded: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        lengths = lengths.to(embedded.device)
        inside = torch.arange(embedded.size(1), device=embedded.device)[None, :] < lengths[:, None]  # [B, S]
        # Zero vectors beyond the end, as the convolutions' own padding: what follows <eos> is never seen.
        x = (embedded * inside[:, :, None]).transpose(1, 2)  # [B, E, S]: Conv1d wants channels first
        pooled = []
        for width, conv in zip(self.widths, self.convs):
            h = F.relu(conv(x))  # [B, filters, S + w - 1]; window j covers positions j - w + 1 .. j
            real = torch.arange(h.size(2), device=x.device)[None, :] < (lengths + width - 1)[:, None]
            pooled.append(h.masked_fill(~real[:, None, :], float("-inf")).amax(dim=2))
        return torch.cat(pooled, dim=-1)


class PairDiscriminator(nn.Module):
    """forward(contexts [B,S], context_lengths [B], responses [B,T]) -> logits [B].

    Responses are read up to and including their first <eos> (all T tokens where there is none), so a response
    that never ended looks different from one that did.
    """

    def __init__(self, config: PairDiscriminatorConfig):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embed_dim, padding_idx=PAD_ID)
        self.context_encoder = NGramEncoder(config.embed_dim, config.filters, config.widths)
        self.response_encoder = NGramEncoder(config.embed_dim, config.filters, config.widths)
        self.dropout = nn.Dropout(config.dropout)
        features = 4 * config.filters * len(config.widths)  # [c, r, c*r, |c-r|]
        self.classifier = nn.Sequential(nn.Linear(features, config.mlp_dim), nn.ReLU(), nn.Dropout(config.dropout),
                                        nn.Linear(config.mlp_dim, 1))

    @property
    def device(self) -> torch.device:
        return self.embedding.weight.device

    def forward(self, contexts: torch.Tensor, context_lengths: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        c = self.context_encoder(self.dropout(self.embedding(contexts)), context_lengths)  # [B, F]
        r = self.response_encoder(self.dropout(self.embedding(responses)), response_lengths(responses))  # [B, F]
        return self.classifier(self.dropout(torch.cat([c, r, c * r, (c - r).abs()], dim=-1))).squeeze(-1)

    @torch.no_grad()
    def probability(self, contexts: torch.Tensor, context_lengths: torch.Tensor, responses: torch.Tensor,
                    batch_size: int = 256) -> torch.Tensor:
        """P(real) for each pair, in eval mode (no dropout; the mode is restored), in batches: [B] float32 on the
        CPU."""
        out = [torch.zeros(0)]  # for an empty batch
        with eval_mode(self):
            out += [torch.sigmoid(self(contexts[i : i + batch_size], context_lengths[i : i + batch_size],
                                      responses[i : i + batch_size]).float()).cpu()
                   for i in range(0, len(contexts), batch_size)]
        return torch.cat(out)
