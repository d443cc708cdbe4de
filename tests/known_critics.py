"""Critics whose gradient is known in closed form, for the gradient-penalty tests of several test modules."""

import torch
from torch import nn


class LinearCritic(nn.Module):
    """D(x) = <w, x> over the [T, V] one-hot input: its gradient is w everywhere, so the penalty is
    weight * (||w|| - 1)^2 for any input."""

    def __init__(self, w: torch.Tensor):
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x):
        return (x * self.w).flatten(1).sum(dim=1)
