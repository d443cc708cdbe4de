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


class OneDtypeCritic(LinearCritic):
    """A linear critic that accepts only its weight's dtype, as a half- or double-precision network works in its own:
    a one-hot or weight of another precision mixed in on the way would promote the input and fail here."""

    def forward(self, x):
        assert x.dtype == self.w.dtype, f"the critic got {x.dtype}, works in {self.w.dtype}"
        return super().forward(x)
