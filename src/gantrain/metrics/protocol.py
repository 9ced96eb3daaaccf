"""The kinds that fix what a score is measured against: feature space, real images, sample count."""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge

from gantrain.kinds import Choice, Says

# classifier: a small CNN trained on the dataset's labels; inception: InceptionV3; auto: by dataset
Extractor = Choice("auto", "classifier", "inception")
# the real images compared against
Split = Choice("test", "train")
# FID fits a covariance: it needs two samples at the very least
SampleCount = Annotated[int, Ge(2), Says("a positive integer of 2 or more (FID needs two samples)")]
