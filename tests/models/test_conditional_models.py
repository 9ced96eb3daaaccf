"""Conditional nets: the label changes what is drawn and scored; unconditional nets are unchanged."""

from __future__ import annotations

import torch

from gantrain.models.autoencoders import VAE, AutoEncoder
from gantrain.models.dcgan import DCGAN, DCGANCritic


def test_unconditional_nets_keep_their_parameters_and_draws():
    torch.manual_seed(0)
    plain = DCGAN(28, 1, latent_dim=8, width=8)
    torch.manual_seed(0)
    zero = DCGAN(28, 1, latent_dim=8, width=8, num_classes=0)
    assert plain.state_dict().keys() == zero.state_dict().keys()
    assert all(torch.equal(v, zero.state_dict()[k]) for k, v in plain.state_dict().items())
    assert not any("label" in k or "projection" in k for k in DCGANCritic(28, 1, 8).state_dict())


def test_conditional_generator_draws_differently_per_class():
    torch.manual_seed(0)
    g = DCGAN(28, 1, latent_dim=8, width=8, num_classes=10).eval()
    z = torch.randn(4, 8)
    a = g.decode(z, torch.tensor([1, 1, 1, 1]))
    b = g.decode(z, torch.tensor([2, 2, 2, 2]))
    assert a.shape == (4, 1, 28, 28) and not torch.allclose(a, b)
    assert g.sample_labels(12).tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]


def test_projection_discriminator_scores_the_pair():
    torch.manual_seed(0)
    d = DCGANCritic(28, 1, width=8, norm="layer", num_classes=3)
    with torch.no_grad():
        d.projection.weight.normal_()
    x = torch.randn(2, 1, 28, 28)
    same = d(x, torch.tensor([0, 0]))
    other = d(x, torch.tensor([1, 1]))
    assert same.shape == (2,) and not torch.allclose(same, other)
    # with a zero embedding the projection adds nothing: the logit is the plain one
    with torch.no_grad():
        d.projection.weight.zero_()
    assert torch.allclose(d(x, torch.tensor([0, 2])), d(x, torch.tensor([1, 1])))


def test_spectral_projection_critic_builds():
    d = DCGANCritic(16, 3, width=8, norm="spectral", num_classes=4)
    assert d(torch.randn(3, 3, 16, 16), torch.tensor([0, 1, 3])).shape == (3,)


def test_cvae_encoder_sees_the_label_unless_told_not_to():
    torch.manual_seed(0)
    cvae = VAE(16, 1, latent_dim=4, width=8, num_classes=5).eval()
    x = torch.randn(2, 1, 16, 16)
    mu_a = cvae.encode(x, torch.tensor([0, 0]))[1]["mu"]
    mu_b = cvae.encode(x, torch.tensor([3, 3]))[1]["mu"]
    assert not torch.allclose(mu_a, mu_b)
    aae = AutoEncoder(16, 1, latent_dim=4, width=8, encode_label=False, num_classes=5).eval()
    code = aae.encode(x, torch.tensor([0, 0]))[0]
    assert torch.equal(code, aae.encode(x, torch.tensor([4, 4]))[0])
    z = torch.randn(2, 4)
    assert not torch.allclose(
        aae.decode(z, torch.tensor([0, 0])), aae.decode(z, torch.tensor([4, 4]))
    )
