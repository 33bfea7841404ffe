"""Devito configuration chosen by the package, unless the user set it.

Devito's defaults are sequential C with a generic compiler and chatty logging; the
package prefers OpenMP, gcc and warnings only. An environment variable
(``DEVITO_LANGUAGE``, ``DEVITO_ARCH``, ``DEVITO_LOGGING``) always wins.
"""

from __future__ import annotations

import os

import devito

_DEFAULTS = {
    # configuration key: (environment variable, package default)
    "language": ("DEVITO_LANGUAGE", "openmp"),
    "compiler": ("DEVITO_ARCH", "gcc"),
    "log-level": ("DEVITO_LOGGING", "WARNING"),
}


def configure_devito() -> None:
    """Apply the package's Devito defaults for every setting the user left unset."""
    for key, (env, value) in _DEFAULTS.items():
        if env not in os.environ:
            devito.configuration[key] = value


configure_devito()
