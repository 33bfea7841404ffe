"""SEG-Y <-> xarray for velocity models and shot gathers, and the benchmark-model registry.

Knows numpy, segyio and xarray only (no torch, no Devito). Public units are SI:
m, s, m/s.

* :func:`read_segy` / :func:`write_segy`: depth models, dims ("x", "z") or, for 3-D
  post-stack cubes, ("x", "y", "z") (x along an inline, y across inlines), rotated
  surveys on their own grid; :func:`model_to_world` / :func:`world_to_model` map points
  between such a cube's frame and world coordinates.
* :func:`read_shots` / :func:`write_shots`: gathers, dims ("shot", "time", "receiver"),
  of 2-D or 3-D surveys.
* :func:`load_model`, :func:`list_models`, :data:`MODELS`: public benchmark models
  from a local folder.
* :func:`convert_binary` (and :func:`add_convert_parser` for the CLI): raw grids to SEG-Y.
* :func:`check_model`, :func:`check_shots`, :data:`MODEL_DIMS`, :data:`SHOT_DIMS`: the
  one schema of models and gathers (:mod:`.schema`), checked by every entry point.
* :func:`mask_dead_traces`: all-zero traces made missing (NaN), as variable acquisitions
  store absent receivers (:mod:`.traces`).
* :class:`SegyError`: every malformed or unreadable file.
"""

from .convert import convert_binary
from .datasets import MODELS, ModelInfo, list_models, load_model, model_info
from .errors import SegyError
from .sample_data import sample_path
from .schema import MODEL_DIMS, SHOT_DIMS, check_model, check_shots
from .segy_model import read_segy, write_segy
from .segy_shots import read_shots, write_shots
from .survey_coords import model_to_world, world_to_model
from .traces import mask_dead_traces

__all__ = [
    "MODELS",
    "MODEL_DIMS",
    "SHOT_DIMS",
    "ModelInfo",
    "SegyError",
    "check_model",
    "check_shots",
    "convert_binary",
    "list_models",
    "load_model",
    "mask_dead_traces",
    "model_info",
    "model_to_world",
    "read_segy",
    "read_shots",
    "sample_path",
    "world_to_model",
    "write_segy",
    "write_shots",
]
