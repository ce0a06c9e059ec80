"""Image transforms on whole batches, on the device the batch lives on: random crop + flip, normalization.

Equivalent to torchvision's ``RandomHorizontalFlip`` + ``RandomCrop(size, padding)`` (zero padding in pixel space)
+ ``ToTensor`` + ``Normalize`` that NB201 applies per image, done here in one gather per batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def random_crop_flip(images: torch.Tensor, padding: int, flip: bool, generator: torch.Generator) -> torch.Tensor:
    """Per image: zero-pad by ``padding``, crop back to the original size at a random offset, and mirror
    horizontally with probability 1/2 if ``flip``. ``images``: (B, C, H, W), any dtype; same shape out."""
    if padding == 0 and not flip:
        return images
    batch, channels, height, width = images.shape
    device = images.device
    padded = F.pad(images, (padding, padding, padding, padding)) if padding else images
    offsets = torch.randint(0, 2 * padding + 1, (2, batch), generator=generator, device=device)
    rows = offsets[0, :, None] + torch.arange(height, device=device)  # (B, H)
    cols = offsets[1, :, None] + torch.arange(width, device=device)  # (B, W)
    if flip:
        mirrored = torch.rand(batch, generator=generator, device=device) < 0.5
        cols = torch.where(mirrored[:, None], cols.flip(1), cols)
    index_b = torch.arange(batch, device=device)[:, None, None, None]
    index_c = torch.arange(channels, device=device)[None, :, None, None]
    return padded[index_b, index_c, rows[:, None, :, None], cols[:, None, None, :]]


def normalize(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor,
              memory_format: torch.memory_format = torch.contiguous_format) -> torch.Tensor:
    """uint8 pixels -> float32 ``(x - mean) / std`` (``mean``/``std``: (1, C, 1, 1), pixel units)."""
    return ((images.float() - mean) / std).contiguous(memory_format=memory_format)
