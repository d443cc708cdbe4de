"""A conditional generator: an LSTM encoder reads the context, an LSTM decoder started from its state writes the
response, optionally looking back at the context through dot-product attention (Luong et al. 2015).

    nll(contexts, lengths, responses) -> [B]       mean per-token NLL of each response (up to its <eos>)
    sample(contexts, lengths, temperature) -> (ids [B,T], log_probs [B,T])
                                                   responses drawn token by token, with each drawn token's
                                                   log-probability (0 after <eos>); differentiable, for REINFORCE

Shapes: B batch, S context words, T response tokens, H hidden units, V vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from heygen_lib.dialogue_gan.data import BOS_ID, EOS_ID, PAD_ID
from heygen_lib.gan.generators import sample_from_logits


@dataclass
class Seq2SeqConfig:
    """Sizes of the generator. One embedding table serves the encoder and the decoder (one vocabulary)."""

    vocab_size: int = 4000
    response_len: int = 24  # T: longest response written, <eos> included
    embed_dim: int = 128
    hidden_dim: int = 256  # encoder and decoder LSTM width
    attention: bool = True  # dot-product attention over the context's encoder outputs (Luong's "dot")
    dropout: float = 0.1  # on embeddings and decoder outputs, in training mode only


class Seq2SeqGenerator(nn.Module):
    """Embedding -> encoder LSTM over the context (packed) -> its final (h, c) starts the decoder LSTM -> [attention]
    -> linear head to the vocabulary (``<pad>`` and ``<bos>`` get probability 0: the model never writes them)."""

    def __init__(self, config: Seq2SeqConfig):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embed_dim, padding_idx=PAD_ID)
        self.encoder = nn.LSTM(config.embed_dim, config.hidden_dim, batch_first=True)
        self.decoder = nn.LSTM(config.embed_dim, config.hidden_dim, batch_first=True)
        # Attention mixes the decoder output with the attended context: tanh(W [output; context]) (Luong eq. 5).
        self.combine = nn.Linear(2 * config.hidden_dim, config.hidden_dim) if config.attention else None
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden_dim, config.vocab_size)
        self.register_buffer("_never", torch.tensor([PAD_ID, BOS_ID]), persistent=False)

    @property
    def device(self) -> torch.device:
        return self.head.weight.device

    def encode(self, contexts: torch.Tensor, lengths: torch.Tensor):
        """Encoder outputs [B, S, H], the context mask [B, S] (True on words) and the final state ((1,B,H), (1,B,H))."""
        packed = pack_padded_sequence(self.dropout(self.embedding(contexts)), lengths.cpu(), batch_first=True,
                                      enforce_sorted=False)
        outputs, state = self.encoder(packed)
        memory, _ = pad_packed_sequence(outputs, batch_first=True, total_length=contexts.size(1))
        mask = torch.arange(contexts.size(1), device=contexts.device)[None, :] < lengths.to(contexts.device)[:, None]
        return memory, mask, state

    def _read_out(self, outputs: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Decoder outputs [B, L, H] -> logits [B, L, V], through attention when configured."""
        if self.combine is not None:
            scores = outputs @ memory.transpose(1, 2)  # [B, L, S]
            weights = scores.masked_fill(~mask[:, None, :], float("-inf")).softmax(dim=-1)
            outputs = torch.tanh(self.combine(torch.cat([outputs, weights @ memory], dim=-1)))
        logits = self.head(self.dropout(outputs))
        return logits.index_fill(-1, self._never, float("-inf"))  # <pad> and <bos> are never written

    def forward(self, contexts: torch.Tensor, lengths: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: logits [B, T, V] for predicting responses[:, t] from [<bos>, responses[:, :t]]."""
        memory, mask, state = self.encode(contexts, lengths)
        inputs = torch.cat([torch.full_like(responses[:, :1], BOS_ID), responses[:, :-1]], dim=1)
        outputs, _ = self.decoder(self.dropout(self.embedding(inputs)), state)
        return self._read_out(outputs, memory, mask)

    def nll(self, contexts: torch.Tensor, lengths: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        """Mean per-token negative log-likelihood (nats) of each response, over its tokens up to <eos>: [B]."""
        logits = self(contexts, lengths, responses).float()
        per_token = F.cross_entropy(logits.transpose(1, 2), responses, reduction="none", ignore_index=PAD_ID)
        return per_token.sum(dim=1) / (responses != PAD_ID).sum(dim=1).clamp(min=1)  # per_token [B, T]

    def sample(
        self,
        contexts: torch.Tensor,
        lengths: torch.Tensor,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One response per context: ids [B, T] (<pad> after <eos>) and the log-probability of each drawn token under
        softmax(logits / temperature) ([B, T] float32, 0 after <eos>). ``temperature=0`` is greedy decoding (its
        log-probabilities are those of the untempered softmax).

        Gradients flow into the log-probabilities unless you call it under ``torch.no_grad()``. It samples with the
        model as it is: call ``.eval()`` first to switch dropout off.
        """
        max_len = self.config.response_len
        memory, mask, state = self.encode(contexts, lengths)
        n = contexts.size(0)
        inputs = torch.full((n,), BOS_ID, dtype=torch.long, device=contexts.device)
        done = torch.zeros(n, dtype=torch.bool, device=contexts.device)
        ids, log_probs = [], []
        for _ in range(max_len):
            output, state = self.decoder(self.dropout(self.embedding(inputs)).unsqueeze(1), state)
            logits = self._read_out(output, memory, mask)[:, 0].float()  # [B, V]
            scaled = logits / temperature if temperature > 0 else logits
            token = sample_from_logits(scaled.detach(), 1.0 if temperature > 0 else 0.0, generator=generator)[:, 0]
            logp = scaled.log_softmax(dim=-1).gather(1, token[:, None])[:, 0]
            ids.append(token.masked_fill(done, PAD_ID))
            log_probs.append(logp.masked_fill(done, 0.0))
            done = done | (token == EOS_ID)
            if bool(done.all()):
                break
            inputs = token
        ids_t, logp_t = torch.stack(ids, dim=1), torch.stack(log_probs, dim=1)
        if ids_t.size(1) < max_len:  # every row ended early: pad to the full length
            pad = max_len - ids_t.size(1)
            ids_t = F.pad(ids_t, (0, pad), value=PAD_ID)
            logp_t = F.pad(logp_t, (0, pad), value=0.0)
        return ids_t, logp_t
