"""Growth operators: `grow(model, op, *, dim, factor, **options) -> new model`."""

from . import cnn_width as _cnn_width  # noqa: F401  (registers the plain CNN's width operators)
from . import depth as _depth  # noqa: F401  (registers the depth operators)
from . import learn as _learn  # noqa: F401  (registers the learned operators)
from . import mixture as _mixture  # noqa: F401  (registers MixtureGrowth for the TemplateCNN)
from . import width as _width  # noqa: F401  (registers the width operators)
from .preservation import measure_preservation
from .registry import (
    ALIASES,
    OPERATORS,
    Growth,
    Operator,
    claims_preservation,
    grow,
    grow_with_sources,
    known_operators,
    register,
)

__all__ = [
    "ALIASES", "OPERATORS", "Growth", "Operator", "claims_preservation", "grow",
    "grow_with_sources", "known_operators", "measure_preservation", "register",
]
