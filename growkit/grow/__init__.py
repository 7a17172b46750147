"""Growth operators: `grow(model, op, *, dim, factor, **options) -> new model`.

The operator table itself (OPERATORS, ALIASES, known_operators) is in growkit.grow.registry;
importing this package fills it. Your own operator: `register` (docs/your_operator.md).
"""

from . import cnn_width as _cnn_width  # noqa: F401  (registers the plain CNN's width operators)
from . import depth as _depth  # noqa: F401  (registers the depth operators)
from . import learn as _learn  # noqa: F401  (registers the learned operators)
from . import mixture as _mixture  # noqa: F401  (registers MixtureGrowth for the TemplateCNN)
from . import width as _width  # noqa: F401  (registers the width operators)
from .freeze import train_only
from .named import LLAMA_PRO, SOLAR, llama_pro, solar
from .registry import (
    Growth,
    Operator,
    grow,
    grow_with_sources,
    measure_preservation,
    register,
    resolve,
    unregister,
)

__all__ = [
    "LLAMA_PRO", "SOLAR", "Growth", "Operator", "grow", "grow_with_sources",
    "llama_pro", "measure_preservation", "register", "resolve", "solar", "train_only", "unregister",
]
