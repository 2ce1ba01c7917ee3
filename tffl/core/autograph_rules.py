"""Which of tffl's own functions AutoGraph converts when traced code calls them.

AutoGraph converts a `tf_computation`'s function, and then every function that
function calls, unless one of its rules says otherwise. tffl's library code
(structure helpers, optimizers, aggregators, metrics, finalizers) has no Python
control flow over tensors, yet converting it took about two thirds of building a
FedAvg process: 1.6 s of 2.7 s for the linear benchmark model, in 52 functions.
`install()` adds rules that leave tffl's modules unconverted, except those listed
in `CONVERTED`, whose loops over datasets rely on AutoGraph.

This treats tffl as TensorFlow, Keras and TensorFlow Probability are treated: the
function `tf_computation` decorates is always converted, whatever its module, and
so are the user's functions tffl calls while tracing it: Keras converts a model's
`call` and a metric's `update_state` itself, and tffl passes the others (a
functional model's functions, a loss given as a function) through `user_function`.

The rules live in a private TensorFlow module (`tensorflow.python.autograph.core.config`);
if it moves, `install()` does nothing and building is only slower.
"""

from __future__ import annotations

import threading
from typing import Callable

from tensorflow.python.autograph.core import ag_ctx
from tensorflow.python.autograph.impl import api as autograph_api

# Modules whose functions rely on AutoGraph (Python loops over datasets).
CONVERTED = ("tffl.learning.templates.model_delta_client_work",)
# Everything else of tffl's is left as written.
SKIPPED = ("tffl", "tffl_ops")

_lock = threading.Lock()
_installed = False


def install() -> bool:
    """Puts the rules first in AutoGraph's (once); whether they are in place."""
    global _installed
    with _lock:
        if _installed:
            return True
        try:
            from tensorflow.python.autograph.core import config
            from tensorflow.python.autograph.core import config_lib

            rules = tuple(config_lib.Convert(m) for m in CONVERTED) + tuple(
                config_lib.DoNotConvert(m) for m in SKIPPED
            )
            config.CONVERSION_RULES = rules + tuple(config.CONVERSION_RULES)
        except (ImportError, AttributeError):
            return False
        _installed = True
        return True


def user_function(fn: Callable) -> Callable:
    """`fn`, a function of the user's that tffl calls while tracing, converted by
    AutoGraph unless conversion is turned off where it is called (as Keras does with
    a layer's `call`). Call it where `fn` is called: the status is read then."""
    return autograph_api.tf_convert(fn, ag_ctx.control_status_ctx())
