"""CoMM's fusion transformer: a CLS token, pre-LayerNorm blocks, a final LayerNorm, the CLS output.

A modality left out of a subset is dropped from the token sequence (no mask token). The subsets of a
batch are fused together: subsets whose sequences have the same length (every unimodal subset, when the
modalities have as many tokens each) are stacked along the batch and share one transformer call, so
n + 1 subsets cost two calls however large n is, with no padding and no masks. `forward_each` runs one
call per subset, the reference the batched path is tested and benchmarked against.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# The CLS query attends elementwise up to this many tokens: on CPU (one thread, forward + backward) 3.5x
# faster than scaled_dot_product_attention at 2 tokens, 2.5x at 3, 1.3x at 17, slower at 33.
_ELEMENTWISE_ATTENTION_MAX_LENGTH = 24


class QuickGELU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class FusionBlock(nn.Module):
    """x + MHA(LN(x)), then x + MLP(LN(x)) with an E -> 4E -> E QuickGELU MLP.

    The attention is `nn.MultiheadAttention`'s as CoMM's code builds it: q/k/v and output projections with
    biases initialised at zero. (Its `add_bias_kv` flag, which would append learned bias tokens to the keys
    and values, is off in CoMM, and there is no such token here.)"""

    def __init__(self, embed_dim: int, heads: int, depth: int) -> None:
        super().__init__()
        self.heads = heads
        self.ln_attn = nn.LayerNorm(embed_dim)
        self.qkv = nn.Linear(embed_dim, 3 * embed_dim)
        self.out = nn.Linear(embed_dim, embed_dim)
        self.ln_mlp = nn.LayerNorm(embed_dim)
        self.mlp = nn.Sequential(
            nn.Linear(embed_dim, 4 * embed_dim), QuickGELU(), nn.Linear(4 * embed_dim, embed_dim)
        )
        std = embed_dim**-0.5
        nn.init.normal_(self.qkv.weight, std=std)
        nn.init.normal_(self.out.weight, std=std * (2 * depth) ** -0.5)
        nn.init.normal_(self.mlp[0].weight, std=(2 * embed_dim) ** -0.5)
        nn.init.normal_(self.mlp[2].weight, std=std * (2 * depth) ** -0.5)
        nn.init.zeros_(self.qkv.bias)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, L, E) -> (B, L, E)."""
        b, length, e = x.shape
        q, k, v = self.qkv(self.ln_attn(x)).view(b, length, 3, self.heads, e // self.heads).unbind(2)
        attended = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        x = x + self.out(attended.transpose(1, 2).reshape(b, length, e))
        return x + self.mlp(self.ln_mlp(x))

    def forward_cls(self, x: torch.Tensor) -> torch.Tensor:
        """The CLS row of `forward(x)` alone, (B, L, E) -> (B, E): all the last block must compute. The other
        rows' queries, attention outputs and MLP are skipped (most of a block's cost on short sequences)."""
        b, length, e = x.shape
        d = e // self.heads
        h = self.ln_attn(x)
        q = F.linear(h[:, 0], self.qkv.weight[:e], self.qkv.bias[:e]).view(b, self.heads, 1, d)
        kv = F.linear(h, self.qkv.weight[e:], self.qkv.bias[e:])
        k, v = kv.view(b, length, 2, self.heads, d).permute(2, 0, 3, 1, 4)
        if length <= _ELEMENTWISE_ATTENTION_MAX_LENGTH:  # one query: products and sums beat a fused kernel
            weights = torch.softmax((q * k).sum(-1) * d**-0.5, dim=-1)
            attended = (weights.unsqueeze(-1) * v).sum(-2)
        else:
            attended = F.scaled_dot_product_attention(q, k, v)
        cls = x[:, 0] + self.out(attended.reshape(b, e))
        return cls + self.mlp(self.ln_mlp(cls))


class FusionTransformer(nn.Module):
    def __init__(self, embed_dim: int, depth: int, heads: int) -> None:
        super().__init__()
        self.cls = nn.Parameter(torch.randn(1, 1, embed_dim))
        self.blocks = nn.ModuleList(FusionBlock(embed_dim, heads, depth) for _ in range(depth))
        self.ln_final = nn.LayerNorm(embed_dim)

    def _run(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks[:-1]:
            x = block(x)
        return self.ln_final(self.blocks[-1].forward_cls(x))

    def _sequence(self, tokens: list[torch.Tensor], subset: tuple[int, ...]) -> torch.Tensor:
        cls = self.cls.expand(tokens[0].shape[0], -1, -1)
        return torch.cat([cls, *(tokens[m] for m in subset)], dim=1)

    def forward(self, tokens: list[torch.Tensor], subsets: list[tuple[int, ...]]) -> torch.Tensor:
        """CLS outputs, shape (len(subsets), B, E): one transformer call per distinct sequence length."""
        b = tokens[0].shape[0]
        lengths = [sum(tokens[m].shape[1] for m in s) for s in subsets]
        out: list[torch.Tensor | None] = [None] * len(subsets)
        for length in dict.fromkeys(lengths):
            group = [i for i, n in enumerate(lengths) if n == length]
            fused = self._run(torch.cat([self._sequence(tokens, subsets[i]) for i in group]))
            for i, chunk in zip(group, fused.split(b), strict=True):
                out[i] = chunk
        return torch.stack(out)

    def forward_each(self, tokens: list[torch.Tensor], subsets: list[tuple[int, ...]]) -> torch.Tensor:
        """The same as `forward`, one shortened sequence per subset (the reference, and the slow path)."""
        return torch.stack([self._run(self._sequence(tokens, s)) for s in subsets])


def subset_name(subset: tuple[int, ...], n_modalities: int) -> str:
    """'all' for every modality, else the 1-based modality numbers joined: (0,) -> '1', (0, 2) -> '13'."""
    return "all" if len(subset) == n_modalities else "".join(str(m + 1) for m in subset)
