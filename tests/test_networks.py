import pytest
import torch

from napari_dip.core.networks import NETWORKS, Generator, NetworkSpec


@pytest.mark.parametrize("kind", NETWORKS)
@pytest.mark.parametrize("hw", [(37, 50), (64, 64), (5, 9)])
def test_any_size_output(kind, hw):
    spec = NetworkSpec(kind, channels=(8, 8, 8), skip_channels=(2, 2, 2), input_channels=4,
                       resnet_blocks=2)
    net = Generator(spec, 3, hw)
    z = torch.rand(1, net.in_channels, *net.input_hw)
    out = net(z)
    assert out.shape == (1, 3, *hw)
    assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("upsample", ["nearest", "bilinear"])
def test_skip_net_paper_size(upsample):
    spec = NetworkSpec("skip", channels=(16,) * 5, skip_channels=(4,) * 5, upsample=upsample)
    net = Generator(spec, 1, (40, 40))
    assert net.padded_hw == (64, 64)
    assert net(torch.rand(1, 32, 64, 64)).shape == (1, 1, 40, 40)


def test_guide_padding():
    net = Generator(NetworkSpec("skip", (8, 8), (2, 2)), 1, (30, 30), in_channels=3)
    g = net.pad_guide(torch.rand(1, 3, 30, 30))
    assert g.shape == (1, 3, 32, 32)
    assert net(g).shape == (1, 1, 30, 30)


def test_bad_spec():
    with pytest.raises(ValueError):
        Generator(NetworkSpec("vgg"), 1, (16, 16))
