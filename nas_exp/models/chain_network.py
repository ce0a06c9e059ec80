"""The network of a chain space (``nas_exp/search_spaces/declared_chain.py``): its blocks in order, each block's
settings read from the architecture's hyperparameter values; optional blocks whose condition fails are left out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn


def _value(setting: Any, values: Mapping[str, Any]) -> Any:
    return values[setting] if isinstance(setting, str) else setting


class ChainNetwork(nn.Module):
    def __init__(self, blocks: Sequence[Any], values: Mapping[str, Any], num_classes: int, in_channels: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for block in blocks:
            if block.when is not None and values.get(block.when[0]) != block.when[1]:
                continue
            s = {k: _value(v, values) for k, v in block.settings.items()}
            if block.kind == "conv_bn_relu":
                width, kernel = int(s.get("width", channels)), int(s.get("kernel", 3))
                for _ in range(int(s.get("repeat", 1))):
                    layers += [nn.Conv2d(channels, width, kernel, padding=kernel // 2, bias=False),
                               nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
                    channels = width
            elif block.kind == "max_pool":
                layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))
            elif block.kind == "dropout":
                layers.append(nn.Dropout(float(s.get("rate", 0.5))))
            elif block.kind == "linear":
                layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)
