"""Wide ResNets for images: a template-mixed one (MixtureGrowth's) and a plain one.

Both nets have one shape, a pre-activation WideResNet (Zagoruyko & Komodakis), depth
6n + 4 and widen factor k:

    stem conv 3x3 -> 3 stages of n blocks (widths 16k, 32k, 64k; strides 1, 2, 2)
    -> BatchNorm -> ReLU -> global average pool -> linear classifier
    block: BN -> ReLU -> conv 3x3 (stride) -> BN -> ReLU -> conv 3x3, plus the input
           (through a 1x1 conv on the activated input when the width or stride changes).

`TemplateCNN` builds every conv and linear weight from parameter templates,
W = sum_k alpha_k T_k, and holds two half-width *members*, each with its own template set,
its own coefficients and its own BatchNorms. Before growth `model(x, member=i)` runs member
i alone; `model(x)` runs both side by side (a block-diagonal net whose logits are the sum
of the members' logits). A grown TemplateCNN (config.grown=True) is one full-width net
whose weights are laid out in blocks of template mixtures. `CNN` is the same shape with
ordinary layers, for the width-growth baselines and the full-width net from scratch.

MixtureGrowth's grown net is itself a TemplateCNN, so this file defines both layouts: the
members' (before growth) and the grown one (BLOCK_SETS, the four-block weights of
TemplateLayer, MemberBatchNorm2d's single norm). It does not grow anything:
growkit/grow/mixture.py turns the one layout into the other, and growkit/grow/cnn_width.py
widens a CNN.

Both follow the GPT's convention `model(x, targets=None) -> (logits, loss)`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .settings import at_least, check_types

# Which template set each block of a grown weight mixes (the official default,
# member_template_sets=[0, 1, 0, 1]): blocks 0 and 1 are the two members; the new blocks 2
# (top right) and 3 (bottom left) mix the templates of member 0 and member 1 respectively.
BLOCK_SETS = (0, 1, 0, 1)


@dataclass
class CNNConfig:
    num_classes: int = 10
    in_channels: int = 3
    depth: int = 10  # 6n + 4: n blocks per stage
    widen: float = 1.0  # k: stage widths 16k, 32k, 64k
    stem: int = 16  # channels of the first conv

    def __post_init__(self) -> None:
        check_types(self)
        at_least(self, 1, "num_classes", "in_channels")
        if self.depth < 10 or (self.depth - 4) % 6 != 0:
            raise ValueError(
                f"depth={self.depth}: a WideResNet has depth 6n + 4 with n >= 1 blocks per "
                "stage, e.g. 10, 16, 22 or 28."
            )
        if abs(16 * self.widen - round(16 * self.widen)) > 1e-9 or self.widen <= 0 or self.stem < 1:
            raise ValueError(
                f"widen={self.widen}, stem={self.stem}: choose widen so that 16 * widen is a "
                "whole number of channels (e.g. widen=0.5, 1, 2.5) and stem >= 1."
            )

    @property
    def blocks_per_stage(self) -> int:
        return (self.depth - 4) // 6

    @property
    def channels(self) -> list[int]:
        """[stem, stage 1, stage 2, stage 3] widths."""
        return [self.stem, *(round(w * self.widen) for w in (16, 32, 64))]

    def blocks(self) -> list[tuple[int, int, int, int, int]]:
        """(stage, index, in channels, out channels, stride) for every block, in order."""
        out, c = [], self.channels
        for s, stride in enumerate((1, 2, 2)):
            for b in range(self.blocks_per_stage):
                cin = c[s] if b == 0 else c[s + 1]
                out.append((s, b, cin, c[s + 1], stride if b == 0 else 1))
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TemplateCNNConfig(CNNConfig):
    """The *full* (grown) net's shape; each member has half of every width."""

    templates: int = 2  # templates per member's set (the official num_templates_each_set)
    grown: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        at_least(self, 1, "templates")
        odd = [c for c in self.channels if c % 2]
        if odd:
            raise ValueError(
                f"stage widths {self.channels} must all be even: each of the two members has "
                "half of every width. Use an even stem and widen a multiple of 1/8."
            )
        if self.templates < 1:
            raise ValueError(f"templates must be >= 1, got {self.templates}.")


# Shapes by their WideResNet name, wrn-<depth>-<widen>. The two WRN-10s run on a laptop CPU;
# "wrn-28-10" is the paper's CIFAR shape for one GPU (grown from two WRN-28-5-width members).
PRESETS: dict[str, dict[str, Any]] = {
    "wrn-10-0.5": dict(depth=10, widen=0.5, stem=8),  # half of wrn-10-1: its half-width net is tiny (README, "Regimes")
    "wrn-10-1": dict(depth=10, widen=1.0),  # tests, digits, fashion-mnist on a CPU: seconds to minutes
    "wrn-10-2": dict(depth=10, widen=2.0),  # fashion-mnist on a CPU: 4x wrn-10-1's FLOPs
    "wrn-16-4": dict(depth=16, widen=4.0, in_channels=3, num_classes=10),  # CIFAR-10, one GPU: minutes
    "wrn-28-10": dict(depth=28, widen=10.0, in_channels=3, num_classes=100),
}


def preset_config(name: str, template: bool = False, **overrides: Any) -> CNNConfig:
    """The named shape as a CNNConfig (or TemplateCNNConfig with template=True)."""
    if name not in PRESETS:
        raise ValueError(f"unknown CNN shape {name!r}; known: {', '.join(PRESETS)} (wrn-<depth>-<widen>).")
    cls = TemplateCNNConfig if template else CNNConfig
    return cls(**{**PRESETS[name], **overrides})


def classify(logits: torch.Tensor, targets: torch.Tensor | None
             ) -> tuple[torch.Tensor, torch.Tensor | None]:
    loss = None if targets is None else F.cross_entropy(logits.float(), targets)
    return logits, loss


# ---- the plain CNN ----------------------------------------------------------------------

class Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.shortcut = (nn.Conv2d(cin, cout, 1, stride, 0, bias=False)
                         if cin != cout or stride != 1 else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = F.relu(self.bn1(x))
        out = self.conv2(F.relu(self.bn2(self.conv1(a))))
        return out + (self.shortcut(a) if self.shortcut is not None else x)


class CNN(nn.Module):
    def __init__(self, cfg: CNNConfig) -> None:
        super().__init__()
        self.config = cfg
        c = cfg.channels
        self.stem = nn.Conv2d(cfg.in_channels, c[0], 3, 1, 1, bias=False)
        self.stages = nn.ModuleList(nn.ModuleList() for _ in range(3))
        for s, _, cin, cout, stride in cfg.blocks():
            self.stages[s].append(Block(cin, cout, stride))
        self.norm = nn.BatchNorm2d(c[3])
        self.head = nn.Linear(c[3], cfg.num_classes, bias=False)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for stage in self.stages:
            for block in stage:
                x = block(x)
        return F.relu(self.norm(x)).mean((2, 3))

    def forward(self, x: torch.Tensor, targets: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        return classify(self.head(self.features(x)), targets)


# ---- template-mixed layers ----------------------------------------------------------------

class TemplateLayer(nn.Module):
    """A weight of shape (out, in, *kernel) mixed from two template sets.

    Each member's block of the weight is sum_k coefs[b, k] * templates[set, k]. A split
    axis is halved between the members; an unsplit one is shared whole (the stem's image
    channels, the classifier's classes). Before growth there are two coefficient rows, one
    per member; a grown layer split on both axes has four, laid out as [[W0, W2], [W3, W1]]
    (rows are output channels), one split on one axis has two: [[W0], [W1]] or [[W0, W1]].
    """

    def __init__(self, shape: tuple[int, ...], *, templates: int, grown: bool,
                 split_out: bool = True, split_in: bool = True) -> None:
        super().__init__()
        out, cin, *kernel = shape
        self.split_out, self.split_in, self.grown = split_out, split_in, grown
        block = (out // 2 if split_out else out, cin // 2 if split_in else cin, *kernel)
        self.templates = nn.Parameter(torch.empty(2, templates, *block))
        for t in self.templates.data.flatten(0, 1):
            nn.init.kaiming_normal_(t, nonlinearity="relu")  # each template as a weight of its own
        # Coefficients orthogonal as in the official code: one orthogonal draw for all the
        # blocks the grown layer will have, of which a member layer keeps the first two.
        n_full = 4 if split_out and split_in else 2
        coefs = nn.init.orthogonal_(torch.empty(n_full, templates))
        self.coefs = nn.Parameter(coefs if grown else coefs[:2].clone())

    def block(self, b: int) -> torch.Tensor:
        return torch.tensordot(self.coefs[b], self.templates[BLOCK_SETS[b]], dims=1)

    def weight(self, member: int | None = None) -> torch.Tensor:
        if member is not None:
            if self.grown:
                raise ValueError("a grown TemplateCNN has no members: call it without member=.")
            return self.block(member)
        blocks = [self.block(b) for b in range(len(self.coefs))]
        if self.split_out and self.split_in and len(blocks) == 2:
            # Both members side by side, nothing crossing between them: an ensemble.
            blocks += [torch.zeros_like(blocks[0])] * 2
        if len(blocks) == 4:
            w0, w1, w2, w3 = blocks
            return torch.cat([torch.cat([w0, w2], 1), torch.cat([w3, w1], 1)], 0)
        return torch.cat(blocks, 0 if self.split_out else 1)


class TemplateConv2d(TemplateLayer):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, padding: int = 0, *,
                 templates: int, grown: bool, split_in: bool = True) -> None:
        super().__init__((cout, cin, kernel, kernel), templates=templates, grown=grown,
                         split_in=split_in)
        self.stride, self.padding = stride, padding

    def forward(self, x: torch.Tensor, member: int | None = None) -> torch.Tensor:
        return F.conv2d(x, self.weight(member), stride=self.stride, padding=self.padding)


class TemplateLinear(TemplateLayer):
    """The classifier: inputs split between members, classes shared, so the full layer
    [[W0, W1]] sums the members' logits."""

    def __init__(self, cin: int, cout: int, *, templates: int, grown: bool) -> None:
        super().__init__((cout, cin), templates=templates, grown=grown, split_out=False)

    def forward(self, x: torch.Tensor, member: int | None = None) -> torch.Tensor:
        return F.linear(x, self.weight(member))


class MemberBatchNorm2d(nn.Module):
    """A BatchNorm per member (half the channels each) before growth; one over all the
    channels after (the members' concatenated, running statistics included)."""

    def __init__(self, channels: int, grown: bool) -> None:
        super().__init__()
        self.grown = grown
        if grown:
            self.norm = nn.BatchNorm2d(channels)
        else:
            self.members = nn.ModuleList(nn.BatchNorm2d(channels // 2) for _ in range(2))

    def forward(self, x: torch.Tensor, member: int | None = None) -> torch.Tensor:
        if self.grown:
            if member is not None:
                raise ValueError("a grown TemplateCNN has no members: call it without member=.")
            return self.norm(x)
        if member is not None:
            return self.members[member](x)
        return torch.cat([bn(h) for bn, h in zip(self.members, x.chunk(2, dim=1))], 1)


class TemplateBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, templates: int, grown: bool) -> None:
        super().__init__()
        t = dict(templates=templates, grown=grown)
        self.bn1 = MemberBatchNorm2d(cin, grown)
        self.conv1 = TemplateConv2d(cin, cout, 3, stride, 1, **t)
        self.bn2 = MemberBatchNorm2d(cout, grown)
        self.conv2 = TemplateConv2d(cout, cout, 3, 1, 1, **t)
        self.shortcut = (TemplateConv2d(cin, cout, 1, stride, 0, **t)
                         if cin != cout or stride != 1 else None)

    def forward(self, x: torch.Tensor, member: int | None = None) -> torch.Tensor:
        a = F.relu(self.bn1(x, member))
        out = self.conv2(F.relu(self.bn2(self.conv1(a, member), member)), member)
        return out + (self.shortcut(a, member) if self.shortcut is not None else x)


class TemplateCNN(nn.Module):
    def __init__(self, cfg: TemplateCNNConfig) -> None:
        super().__init__()
        self.config = cfg
        c, t = cfg.channels, dict(templates=cfg.templates, grown=cfg.grown)
        # The stem reads the whole image in every member: only its outputs are split.
        self.stem = TemplateConv2d(cfg.in_channels, c[0], 3, 1, 1, split_in=False, **t)
        self.stages = nn.ModuleList(nn.ModuleList() for _ in range(3))
        for s, _, cin, cout, stride in cfg.blocks():
            self.stages[s].append(TemplateBlock(cin, cout, stride, **t))
        self.norm = MemberBatchNorm2d(c[3], cfg.grown)
        self.head = TemplateLinear(c[3], cfg.num_classes, **t)

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, x: torch.Tensor, targets: torch.Tensor | None = None,
                member: int | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Member `member` (0 or 1) alone before growth; without it, the whole net (before
        growth: both members side by side, logits summed)."""
        if member is not None and member not in (0, 1):
            raise ValueError(f"member must be 0 or 1 (or None for the whole net), got {member}.")
        x = self.stem(x, member)
        for stage in self.stages:
            for block in stage:
                x = block(x, member)
        x = F.relu(self.norm(x, member)).mean((2, 3))
        return classify(self.head(x, member), targets)
