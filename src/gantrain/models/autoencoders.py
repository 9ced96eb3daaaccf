"""Autoencoder and VAE (Kingma & Welling 2013) on the shared conv stacks.

The AE has no prior of its own: it samples by decoding draws from a Gaussian (full covariance)
fitted to the codes of training data, refitted at every milestone. The VAE samples its N(0, I)
prior by default; either can choose with `sample_from: fitted | prior`.

Conditional (num_classes > 0, set from the data by conditional=true): the decoder takes a learned
class vector beside the code, and with encode_label the encoder also sees the label as one more
image channel: the CVAE (Sohn et al. 2015). Without it, the code must carry everything but the
class, its style (the supervised adversarial autoencoder of Makhzani et al. 2015).
"""

from __future__ import annotations

from typing import Annotated, Literal

import torch

from gantrain.kinds import NOT_A_FLAG, Channels, Count, Flag, ImageSize, PositiveInt
from gantrain.models.base import GenerativeModel
from gantrain.models.blocks import DownStack, UpStack, init_dcgan
from gantrain.models.labels import LabelMap, LabelVector, label_dim
from gantrain.models.resblocks import init_residual
from gantrain.models.resnet import ResEncoder, ResUp

# fitted: a Gaussian fitted to training codes; prior: N(0, I); null: the model's own default
SampleFrom = Annotated[Literal["fitted", "prior"], NOT_A_FLAG]
# the encoder and decoder stacks: dcgan (strided convs, blocks.py) or resnet (residual blocks,
# resnet.py: average-pooling encoder, nearest-upsampling decoder)
Backbone = Annotated[Literal["dcgan", "resnet"], NOT_A_FLAG]
STACKS = {"dcgan": (DownStack, UpStack, init_dcgan), "resnet": (ResEncoder, ResUp, init_residual)}


class AutoEncoder(GenerativeModel):
    # buffers (register_buffer): tensors, not the Tensor | Module that nn.Module's getattr gives
    code_mean: torch.Tensor
    code_chol: torch.Tensor

    provides = frozenset({"generate", "encode"})
    code_factor = 1  # encoder outputs per latent dimension
    default_sample_from: SampleFrom = "fitted"

    def __init__(
        self,
        image_size: ImageSize,
        channels: Channels,
        latent_dim: PositiveInt = 16,
        width: PositiveInt = 64,
        max_width: PositiveInt = 512,
        sample_from: SampleFrom | None = None,
        encode_label: Flag = True,
        num_classes: Count = 0,
        backbone: Backbone = "dcgan",
    ):
        super().__init__()
        down, up, init = STACKS[backbone]
        sample_from = sample_from or self.default_sample_from
        self.latent_dim = latent_dim
        self.sample_from = sample_from
        self.num_classes = num_classes
        self.encode_label = bool(num_classes and encode_label)
        self.encoder = down(
            channels + self.encode_label,
            image_size,
            width,
            max_width,
            latent_dim * self.code_factor,
        )
        inputs = latent_dim + (label_dim(num_classes) if num_classes else 0)
        self.decoder = up(inputs, channels, image_size, width, max_width)
        if num_classes:
            self.label = LabelVector(num_classes)
        if self.encode_label:
            self.label_map = LabelMap(num_classes, image_size)
        init(self)
        # the fitted Gaussian: codes = mean + chol @ noise; identity until the first fit
        self.register_buffer("code_mean", torch.zeros(latent_dim))
        self.register_buffer("code_chol", torch.eye(latent_dim))

    def _encoded(self, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        if self.encode_label:
            x = self.label_map(x, labels)  # (B, C + 1, H, W)
        return self.encoder(x)

    def encode(self, x: torch.Tensor, labels: torch.Tensor | None = None):
        return self._encoded(x, labels), {}  # (B, latent)

    def decode_raw(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.num_classes:
            z = self.label(z, labels)  # (B, latent + label_dim)
        return self.decoder(z)

    def latent_for(self, noise: torch.Tensor) -> torch.Tensor:
        if self.sample_from == "prior":
            return noise
        return self.code_mean + noise @ self.code_chol.T

    @torch.no_grad()
    def refresh_prior(self, codes: torch.Tensor) -> None:
        codes = codes.double()
        mean = codes.mean(0)
        centred = codes - mean
        cov = centred.T @ centred / max(codes.shape[0] - 1, 1)
        cov += 1e-5 * torch.eye(self.latent_dim, dtype=cov.dtype, device=cov.device)
        self.code_mean.copy_(mean.float())
        self.code_chol.copy_(torch.linalg.cholesky(cov).float())


class VAE(AutoEncoder):
    provides = frozenset({"generate", "encode", "posterior"})
    code_factor = 2  # mean and log-variance

    default_sample_from: SampleFrom = "prior"

    def encode(self, x: torch.Tensor, labels: torch.Tensor | None = None):
        mu, logvar = self._encoded(x, labels).chunk(2, dim=1)  # (B, latent) each
        logvar = logvar.clamp(-12.0, 8.0)  # keeps exp() finite early in training
        if self.training:  # reparameterisation: z = mu + sigma * eps
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        else:
            z = mu
        return z, {"mu": mu, "logvar": logvar}
