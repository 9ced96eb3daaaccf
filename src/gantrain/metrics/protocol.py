"""The kinds that fix what a score is measured against: feature space, real images, sample count."""

from __future__ import annotations

from typing import Annotated, Literal

from annotated_types import Ge

from gantrain.kinds import NOT_A_FLAG, Says

# classifier: a small CNN trained on the dataset's labels; inception: InceptionV3; auto: by dataset
Extractor = Annotated[Literal["auto", "classifier", "inception"], NOT_A_FLAG]
# the real images compared against
Split = Annotated[Literal["test", "train"], NOT_A_FLAG]
# FID fits a covariance: it needs two samples at the very least
SampleCount = Annotated[int, Ge(2), Says("a positive integer of 2 or more (FID needs two samples)")]
