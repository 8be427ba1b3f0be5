"""Generator networks f_θ(z) for the Deep Image Prior.

All networks map an input code ``z`` shaped (B, C_in, h, w) to an image (B, C_out, H, W) in [0, 1]
(sigmoid output). :class:`Generator` wraps any of them so that every image size works: it pads the
requested size up to what the architecture needs and crops the output back.
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import nn

from .options import NETWORKS, UPSAMPLE_MODES, NetworkSpec

__all__ = ["NETWORKS", "UPSAMPLE_MODES", "Generator", "NetworkSpec", "padding_multiple"]


def _act() -> nn.Module:
    return nn.LeakyReLU(0.2, inplace=True)


def conv(cin: int, cout: int, k: int, stride: int = 1, bias: bool = True) -> nn.Module:
    """Convolution with reflection padding (no dark frame from zero padding)."""
    pad = (k - 1) // 2
    layers: list[nn.Module] = []
    if pad:
        layers.append(nn.ReflectionPad2d(pad))
    layers.append(nn.Conv2d(cin, cout, k, stride=stride, bias=bias))
    return nn.Sequential(*layers) if len(layers) > 1 else layers[0]


def conv_bn_act(cin: int, cout: int, k: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(conv(cin, cout, k, stride), nn.BatchNorm2d(cout), _act())


class _SkipLevel(nn.Module):
    """One scale of the paper's skip encoder-decoder, holding the coarser levels inside."""

    def __init__(self, cin: int, down: list[int], up: list[int], skip: list[int], upsample: str,
                 k_down: int = 3, k_up: int = 3, k_skip: int = 1):
        super().__init__()
        d, u, s = down[0], up[0], skip[0]
        self.skip = conv_bn_act(cin, s, k_skip) if s else None
        deeper: list[nn.Module] = [conv_bn_act(cin, d, k_down, stride=2), conv_bn_act(d, d, k_down)]
        if len(down) > 1:
            deeper.append(_SkipLevel(d, down[1:], up[1:], skip[1:], upsample, k_down, k_up, k_skip))
            k = up[1]
        else:
            k = d
        align = {"align_corners": False} if upsample == "bilinear" else {}
        deeper.append(nn.Upsample(scale_factor=2, mode=upsample, **align))
        self.deeper = nn.Sequential(*deeper)
        self.merge = nn.Sequential(
            nn.BatchNorm2d(s + k),
            conv_bn_act(s + k, u, k_up),
            conv_bn_act(u, u, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        deep = self.deeper(x)
        if self.skip is not None:
            deep = torch.cat([self.skip(x), deep], dim=1)
        return self.merge(deep)


class SkipNet(nn.Module):
    """The Deep Image Prior paper's encoder-decoder with skip connections ("skip" in its code).

    Each scale halves the resolution with a strided convolution; skip branches of ``skip[i]``
    channels (1×1 convolutions) join the decoder at the same scale.
    """

    def __init__(self, cin: int, cout: int, down: list[int], up: list[int], skip: list[int],
                 upsample: str = "bilinear"):
        super().__init__()
        if not len(down) == len(up) == len(skip):
            raise ValueError("channels_down, channels_up and skip_channels need one entry per scale.")
        self.body = _SkipLevel(cin, list(down), list(up), list(skip), upsample)
        self.head = nn.Sequential(nn.Conv2d(up[0], cout, 1), nn.Sigmoid())
        self.multiple = 2 ** len(down)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(z))


class UNet(nn.Module):
    """A U-Net: two 3×3 conv-BN-LeakyReLU per scale, max-pool down, interpolation up, concat skips."""

    def __init__(self, cin: int, cout: int, channels: list[int], upsample: str = "bilinear"):
        super().__init__()
        self.enc = nn.ModuleList()
        prev = cin
        for c in channels:
            self.enc.append(nn.Sequential(conv_bn_act(prev, c, 3), conv_bn_act(c, c, 3)))
            prev = c
        self.dec = nn.ModuleList()
        for c_skip, c_out in zip(reversed(channels[:-1]), reversed(channels[:-1]), strict=True):
            self.dec.append(nn.Sequential(conv_bn_act(prev + c_skip, c_out, 3),
                                          conv_bn_act(c_out, c_out, 3)))
            prev = c_out
        self.pool = nn.MaxPool2d(2)
        align = {"align_corners": False} if upsample == "bilinear" else {}
        self.up = nn.Upsample(scale_factor=2, mode=upsample, **align)
        self.head = nn.Sequential(nn.Conv2d(prev, cout, 1), nn.Sigmoid())
        self.multiple = 2 ** (len(channels) - 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        skips = []
        x = z
        for i, block in enumerate(self.enc):
            x = block(x if i == 0 else self.pool(x))
            skips.append(x)
        for block, s in zip(self.dec, reversed(skips[:-1]), strict=True):
            x = block(torch.cat([self.up(x), s], dim=1))
        return self.head(x)


class _ResBlock(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(conv(c, c, 3), nn.BatchNorm2d(c), _act(), conv(c, c, 3),
                                  nn.BatchNorm2d(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResNet(nn.Module):
    """Full-resolution residual network (the paper's ResNet baseline): no downsampling at all."""

    def __init__(self, cin: int, cout: int, width: int, blocks: int):
        super().__init__()
        self.net = nn.Sequential(conv(cin, width, 3), _act(), *[_ResBlock(width) for _ in range(blocks)],
                                 conv(width, width, 3), nn.BatchNorm2d(width), _act(),
                                 nn.Conv2d(width, cout, 1), nn.Sigmoid())
        self.multiple = 1

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class DeepDecoder(nn.Module):
    """Deep Decoder (Heckel & Hand, 2019): an under-parameterised decoder of 1×1 convolutions,
    upsampling, ReLU and channel normalisation from a small fixed random tensor. It needs no early
    stopping as badly as the skip net, at the cost of some detail."""

    def __init__(self, cout: int, channels: list[int], upsample: str = "bilinear"):
        super().__init__()
        layers: list[nn.Module] = []
        align = {"align_corners": False} if upsample == "bilinear" else {}
        for cin, c in itertools.pairwise(channels):
            layers += [nn.Conv2d(cin, c, 1, bias=False),
                       nn.Upsample(scale_factor=2, mode=upsample, **align),
                       nn.ReLU(inplace=True), nn.BatchNorm2d(c)]
        layers += [nn.Conv2d(channels[-1], channels[-1], 1, bias=False), nn.ReLU(inplace=True),
                   nn.BatchNorm2d(channels[-1]), nn.Conv2d(channels[-1], cout, 1), nn.Sigmoid()]
        self.net = nn.Sequential(*layers)
        self.multiple = 2 ** (len(channels) - 1)
        self.input_channels = channels[0]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


def padding_multiple(spec: NetworkSpec) -> int:
    """The side multiple a network of ``spec`` pads its image to (see :class:`Generator`)."""
    depth = len(spec.channels)
    return {"skip": 2 ** depth, "unet": 2 ** (depth - 1), "resnet": 1,
            "deep_decoder": 2 ** (depth - 1)}[spec.kind]


class Generator(nn.Module):
    """A DIP network for any image size: pads to the architecture's multiple, crops the output.

    Parameters
    ----------
    spec : NetworkSpec
    out_channels : int
        Image channels to produce.
    out_hw : (int, int)
        The image size wanted.
    in_channels : int, optional
        Channels of the input code (defaults to ``spec.input_channels``; for guided restoration
        the guide's channels).
    """

    def __init__(self, spec: NetworkSpec, out_channels: int, out_hw: tuple[int, int],
                 in_channels: int | None = None):
        super().__init__()
        if spec.kind not in NETWORKS:
            raise ValueError(f"network must be one of {NETWORKS}; got {spec.kind!r}.")
        if spec.upsample not in UPSAMPLE_MODES:
            raise ValueError(f"upsample must be one of {UPSAMPLE_MODES}; got {spec.upsample!r}.")
        cin = spec.input_channels if in_channels is None else in_channels
        ch = list(spec.channels)
        if spec.kind == "skip":
            skip = list(spec.skip_channels)
            if len(skip) == 1 and len(ch) > 1:
                skip = skip * len(ch)
            self.net = SkipNet(cin, out_channels, ch, ch, skip, spec.upsample)
        elif spec.kind == "unet":
            self.net = UNet(cin, out_channels, ch, spec.upsample)
        elif spec.kind == "resnet":
            self.net = ResNet(cin, out_channels, ch[0], spec.resnet_blocks)
        else:
            self.net = DeepDecoder(out_channels, ch, spec.upsample)
            cin = ch[0]
        self.in_channels = cin
        m = self.net.multiple
        self.out_hw = tuple(out_hw)
        # the coarsest scale needs at least 2 pixels for its reflection padding
        self.padded_hw = (max(math.ceil(out_hw[0] / m), 2) * m, max(math.ceil(out_hw[1] / m), 2) * m)
        # deep decoder starts from a coarse grid; all others take a full-size input code
        div = m if spec.kind == "deep_decoder" else 1
        self.input_hw = (self.padded_hw[0] // div, self.padded_hw[1] // div)
        pt = self.padded_hw[0] - out_hw[0]
        pl = self.padded_hw[1] - out_hw[1]
        self.offset = (pt // 2, pl // 2)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = self.net(z)
        t, left = self.offset
        return out[..., t:t + self.out_hw[0], left:left + self.out_hw[1]]

    def pad_guide(self, guide: torch.Tensor) -> torch.Tensor:
        """Reflect-pad a full-size guide image (B, C, H, W) to the padded input size."""
        t, left = self.offset
        b = self.padded_hw[0] - self.out_hw[0] - t
        r = self.padded_hw[1] - self.out_hw[1] - left
        if not (t or b or left or r):
            return guide
        mode = "reflect" if max(t, b, left, r) < min(guide.shape[-2:]) else "replicate"
        return nn.functional.pad(guide, (left, r, t, b), mode=mode)
