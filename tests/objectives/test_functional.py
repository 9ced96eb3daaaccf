"""Loss math against closed forms and hand-computed values."""

import math

import pytest
import torch

from gantrain.objectives import functional as F


def test_d_loss_of_known_logits():
    real, fake = torch.tensor([0.0, 2.0]), torch.tensor([0.0, -1.0])
    # -log sigmoid(l) for real, -log(1 - sigmoid(l)) for fake, each averaged
    expected = (math.log(2) + math.log(1 + math.exp(-2))) / 2 + (
        math.log(2) + math.log(1 + math.exp(-1))
    ) / 2
    assert F.d_loss(real, fake).item() == pytest.approx(expected, rel=1e-6)


def test_generator_losses_of_known_logits():
    fake = torch.tensor([0.0, 3.0])
    ns = (math.log(2) + math.log(1 + math.exp(-3))) / 2  # -log D
    mm = (math.log(0.5) + math.log(1 - 1 / (1 + math.exp(-3)))) / 2  # log(1 - D)
    assert F.g_loss_non_saturating(fake).item() == pytest.approx(ns, rel=1e-6)
    assert F.g_loss_minimax(fake).item() == pytest.approx(mm, rel=1e-6)


def test_losses_stable_for_extreme_logits():
    big = torch.tensor([1e4, -1e4])
    for value in (F.d_loss(big, big), F.g_loss_non_saturating(big), F.g_loss_minimax(big)):
        assert torch.isfinite(value)


def test_hinge_and_least_squares_of_known_outputs():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0])
    # hinge: mean(max(0, 1 - r)) + mean(max(0, 1 + f)) = (0 + 0.5)/2 + (0 + 1)/2
    assert F.d_loss_hinge(real, fake).item() == pytest.approx(0.75)
    assert F.g_loss_hinge(fake).item() == pytest.approx(1.0)
    # least squares: ((r - a)^2 + f^2) / 2, batch means, a = 0.9
    expected = 0.5 * (((2 - 0.9) ** 2 + (0.5 - 0.9) ** 2) / 2 + (4 + 0) / 2)
    assert F.d_loss_least_squares(real, fake, 0.9).item() == pytest.approx(expected)
    assert F.g_loss_least_squares(fake).item() == pytest.approx(0.5 * (9 + 1) / 2)


def test_wasserstein_losses_of_known_scores():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0])
    # critic: E[D(G(z))] - E[D(x)] = -1 - 1.25; generator: -E[D(G(z))] = 1
    assert F.d_loss_wasserstein(real, fake).item() == pytest.approx(-2.25)
    assert F.g_loss_wasserstein(fake).item() == pytest.approx(1.0)


def _linear_critic(w: torch.Tensor):
    return lambda x: x.flatten(1) @ w  # D(x) = w . x, whose input gradient is w everywhere


def test_gradient_penalty_and_r1_of_a_linear_critic():
    w = torch.tensor([3.0, 4.0, 0.0, 0.0])  # |w| = 5
    x = torch.randn(6, 1, 2, 2)
    grads = F.input_gradients(_linear_critic(w), x)
    assert grads.shape == x.shape and torch.allclose(grads.flatten(1), w.expand(6, 4))
    assert F.gradient_penalty(grads).item() == pytest.approx((5 - 1) ** 2)  # (|w| - 1)^2
    assert F.r1_penalty(grads).item() == pytest.approx(0.5 * 25)  # |w|^2 / 2


def test_penalties_train_the_critic_towards_their_targets():
    w = torch.tensor([3.0, 4.0], requires_grad=True)
    x = torch.randn(8, 2)
    F.gradient_penalty(F.input_gradients(_linear_critic(w), x)).backward()
    # d/dw (|w| - 1)^2 = 2 (|w| - 1) w / |w|: the penalty shrinks w towards unit norm
    assert torch.allclose(w.grad, 2 * 4 * torch.tensor([3.0, 4.0]) / 5)
    w.grad = None
    F.r1_penalty(F.input_gradients(_linear_critic(w), x)).backward()
    assert torch.allclose(w.grad, torch.tensor([3.0, 4.0]))  # d/dw |w|^2 / 2 = w


def test_interpolates_lie_between_real_and_fake():
    real, fake = torch.ones(3, 1, 2, 2), torch.zeros(3, 1, 2, 2)
    mixed = F.interpolates(real, fake, torch.tensor([0.0, 0.25, 1.0]))
    assert mixed[:, 0, 0, 0].tolist() == [0.0, 0.25, 1.0]


@pytest.mark.parametrize(
    "loss",
    [
        F.g_loss_non_saturating,
        F.g_loss_minimax,
        F.g_loss_hinge,
        F.g_loss_least_squares,
        F.g_loss_wasserstein,
    ],
)
def test_generator_step_raises_the_critic_score(loss):
    # both generator losses must push D(G(z)) up: d loss / d logit < 0
    logit = torch.tensor([0.3], requires_grad=True)
    loss(logit).backward()
    assert logit.grad.item() < 0


@pytest.mark.parametrize(
    "loss", [F.d_loss, F.d_loss_hinge, F.d_loss_least_squares, F.d_loss_wasserstein]
)
def test_critic_step_separates_real_from_fake(loss):
    real = torch.tensor([0.1], requires_grad=True)
    fake = torch.tensor([0.1], requires_grad=True)
    loss(real, fake).backward()
    assert real.grad.item() < 0 < fake.grad.item()  # real logit goes up, fake goes down


def test_minimax_saturates_where_non_saturating_does_not():
    rejected = torch.tensor([-8.0], requires_grad=True)
    F.g_loss_minimax(rejected).backward()
    g_mm = rejected.grad.abs().item()
    rejected.grad = None
    F.g_loss_non_saturating(rejected).backward()
    assert g_mm < 1e-3 < rejected.grad.abs().item()


def test_bernoulli_nll_of_known_pixels():
    h = torch.zeros(1, 1, 1, 2)  # p = 0.5 everywhere
    x = torch.tensor([[[[1.0, -1.0]]]])
    assert F.bernoulli_nll(h, x).item() == pytest.approx(2 * math.log(2), rel=1e-6)
    h = torch.full((1, 1, 1, 1), 0.5 * math.log(3))  # p = sigmoid(log 3) = 0.75
    assert F.bernoulli_nll(h, torch.ones(1, 1, 1, 1)).item() == pytest.approx(
        -math.log(0.75), rel=1e-5
    )


def test_gaussian_nll_matches_torch_distribution():
    h = torch.randn(2, 1, 3, 3)
    x = torch.rand(2, 1, 3, 3) * 2 - 1
    log_scale = torch.tensor(math.log(0.3))
    ref = -torch.distributions.Normal(torch.tanh(h), 0.3).log_prob(x).flatten(1).sum(1)
    assert torch.allclose(F.gaussian_nll(h, x, log_scale), ref, atol=1e-5)


def test_kl_of_standard_normal_is_zero_and_known_gaussian():
    assert F.kl_std_normal(torch.zeros(3, 4), torch.zeros(3, 4)).abs().max().item() == 0.0
    mu, var = torch.tensor([[1.0]]), torch.tensor([[2.0]])
    expected = 0.5 * (1 + 2 - 1 - math.log(2))
    assert F.kl_std_normal(mu, var.log()).item() == pytest.approx(expected, rel=1e-6)


def test_kl_matches_torch_distributions():
    mu, logvar = torch.randn(5, 3), torch.randn(5, 3)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros(3), torch.ones(3))
    ref = torch.distributions.kl_divergence(q, p).sum(1)
    assert torch.allclose(F.kl_std_normal(mu, logvar), ref, atol=1e-5)


def _mmd(x, y, unbiased, kernel="rbf"):
    d2 = F.sq_dists(torch.cat([x, y]), torch.cat([x, y]))
    k = F.rbf_kernel(d2, [1.0, 2.0]) if kernel == "rbf" else F.imq_kernel(d2, [2.0 * x.shape[1]])
    n = x.shape[0]
    return F.mmd2(k[:n, :n], k[n:, n:], k[:n, n:], unbiased)


@pytest.mark.parametrize("kernel", ["rbf", "imq"])
def test_biased_mmd_of_a_set_with_itself_is_exactly_zero(kernel):
    x = torch.randn(32, 3, dtype=torch.float64)
    assert _mmd(x, x, unbiased=False, kernel=kernel).abs().item() < 1e-12


def test_unbiased_mmd_is_zero_in_expectation():
    g = torch.Generator().manual_seed(0)
    vals = [
        _mmd(torch.randn(64, 2, generator=g), torch.randn(64, 2, generator=g), True).item()
        for _ in range(200)
    ]
    mean, sem = sum(vals) / len(vals), torch.tensor(vals).std().item() / math.sqrt(len(vals))
    assert abs(mean) < 3 * sem + 1e-4
    assert min(vals) < 0  # unbiased: it does go negative


@pytest.mark.parametrize("kernel", ["rbf", "imq"])
def test_mmd_grows_with_a_mean_shift(kernel):
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(128, 2, generator=g), torch.randn(128, 2, generator=g)
    shifts = [0.0, 0.5, 1.0, 2.0]
    vals = [_mmd(x, y + s, True, kernel).item() for s in shifts]
    assert vals == sorted(vals) and vals[-1] > 10 * abs(vals[0])


def test_sq_dists_and_kernels_by_hand():
    x, y = torch.tensor([[0.0, 0.0]]), torch.tensor([[3.0, 4.0]])
    d2 = F.sq_dists(x, y)
    assert d2.item() == 25.0
    assert F.rbf_kernel(d2, [5.0]).item() == pytest.approx(math.exp(-25 / 50))
    assert F.imq_kernel(d2, [25.0]).item() == pytest.approx(0.5)


def test_median_bandwidth():
    x = torch.tensor([[0.0], [1.0], [3.0]])
    d2 = F.sq_dists(x, x)  # off-diagonal: 1, 9, 4 (twice each) -> median 4
    assert F.median_bandwidth(d2).item() == pytest.approx(math.sqrt(2.0))
