"""The checkpoint file format: the names of its files and tensor groups, and the checks a
checkpoint directory passes before anything in it is used (``checkpoint.json``'s schema with
every size bounded, the tensor file's SHA-256, shapes and finiteness, optimizer settings).
Nothing is ever unpickled: tensors come from safetensors, the rest from JSON."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as safetensors_load

from mfmarl.algorithms import check_learner_sizes
from mfmarl.core.errors import MAX_FEATURES, ConfigError, require, require_int_in

MODEL_FILE = "model.safetensors"
META_FILE = "checkpoint.json"
RUN_FILE = "run.json"
FORMAT_VERSION = 1
OPTIMIZER_PREFIX = "optimizer/"
LEARNER_PREFIX = "learner/"
REQUIRED_KEYS = ("format_version", "algorithm", "config", "tensors", "model_sha256")


def first_line(exc: BaseException) -> str:
    """The first line of an error's message (its type when it has none)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def read_metadata(where: Path) -> dict[str, Any]:
    """``checkpoint.json`` of the directory ``where``, checked (:func:`check_metadata`)."""
    import json

    try:
        meta = json.loads((where / META_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ConfigError(f"checkpoint {where}: {META_FILE} is not valid JSON") from exc
    if not isinstance(meta, dict):
        raise ConfigError(f"checkpoint {where}: {META_FILE} is not a JSON object")
    for key in REQUIRED_KEYS:
        if key not in meta:
            raise ConfigError(f"checkpoint {where}: {META_FILE} lacks {key!r}")
    try:
        check_metadata(meta)
    except ConfigError as exc:
        raise ConfigError(f"checkpoint {where}: bad {META_FILE} ({exc})") from exc
    return meta


def check_metadata(meta: dict[str, Any]) -> None:
    """The schema of ``checkpoint.json``: field types, and sizes bounded before anything
    is allocated from them."""
    require(meta["format_version"] == FORMAT_VERSION, f"format_version must be {FORMAT_VERSION}")
    require(isinstance(meta["algorithm"], str), "algorithm must be a string")
    require(isinstance(meta["config"], dict), "config must be an object")
    require(isinstance(meta["model_sha256"], str), "model_sha256 must be a string")
    shapes = meta["tensors"]
    require(isinstance(shapes, dict), "tensors must be an object of shapes")
    for name, shape in shapes.items():
        require(isinstance(shape, list) and len(shape) <= 8, f"tensor {name}: bad shape")
        for side in shape:
            require_int_in(f"tensor {name} side", side, 0, MAX_FEATURES)
    for key in ("learner_state", "optimizer_param_groups"):
        require(isinstance(meta.get(key, {}), dict), f"{key} must be an object")
    view = meta.get("view_shape")
    require(view is None or isinstance(view, list), "view_shape must be a list or null")
    sizes = {k: meta[k] for k in ("obs_dim", "n_actions", "n_agents") if k in meta}
    if len(sizes) == 3:
        check_learner_sizes(
            sizes["obs_dim"],
            sizes["n_actions"],
            sizes["n_agents"],
            tuple(view) if view is not None else None,  # type: ignore[arg-type]
            meta.get("mean_action_dim") or None,
        )


def read_tensors(where: Path, meta: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The tensors of ``model.safetensors`` in ``where``, checked against ``meta``."""
    blob = (where / MODEL_FILE).read_bytes()
    if hashlib.sha256(blob).hexdigest() != meta["model_sha256"]:
        raise ConfigError(
            f"checkpoint {where}: {MODEL_FILE} is corrupt or does not belong to {META_FILE} "
            "(SHA-256 mismatch)"
        )
    try:
        tensors = safetensors_load(blob)
    except Exception as exc:  # safetensors raises its own error types on bad input
        message = f"checkpoint {where}: {MODEL_FILE} is corrupt ({first_line(exc)})"
        raise ConfigError(message) from exc
    shapes = meta["tensors"]
    for name, tensor in tensors.items():
        if list(tensor.shape) != shapes.get(name):
            raise ConfigError(f"checkpoint {where}: tensor {name} does not match {META_FILE}")
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ConfigError(f"checkpoint {where}: tensor {name} holds NaN or infinite values")
        if name.startswith(OPTIMIZER_PREFIX) and optimizer_key(name) is None:
            raise ConfigError(f"checkpoint {where}: bad optimizer tensor name {name!r}")
    return tensors


def optimizer_key(name: str) -> tuple[str, int, str] | None:
    """``optimizer/<optimizer>/<param index>/<field>`` split into its parts (None when the
    name has another form)."""
    parts = name[len(OPTIMIZER_PREFIX) :].split("/")
    if len(parts) != 3 or not parts[1].isdigit() or not parts[2]:
        return None
    return parts[0], int(parts[1]), parts[2]


def check_shapes(where: Path, expected: dict[str, torch.Tensor], found: dict[str, Any]) -> None:
    """Every learner tensor must be in the file with the same shape."""
    for name, tensor in expected.items():
        if name not in found:
            raise ConfigError(f"checkpoint {where}: tensor {name} is missing")
        have, want = tuple(found[name].shape), tuple(tensor.shape)
        if have != want:
            raise ConfigError(
                f"checkpoint {where}: tensor {name} has shape {have}, the learner expects {want}"
            )
    extra = sorted(set(found) - set(expected))
    if extra:
        raise ConfigError(f"checkpoint {where}: unexpected tensor {extra[0]}")


NUMERIC_OPTIMIZER_FIELDS = ("lr", "betas", "eps", "weight_decay", "momentum", "dampening")


def param_groups_valid(groups: Any) -> bool:
    """Optimizer param groups as JSON: a list of objects whose ``params`` are indices and
    whose numeric settings are finite numbers."""
    if not isinstance(groups, list):
        return False
    for group in groups:
        if not isinstance(group, dict):
            return False
        params = group.get("params")
        if not isinstance(params, list) or not all(type(i) is int for i in params):
            return False
        for key in NUMERIC_OPTIMIZER_FIELDS:
            if key in group and not finite_numbers(group[key]):
                return False
    return True


def finite_numbers(value: Any) -> bool:
    """A finite int or float, or a list of them (bools are not numbers here)."""
    values = value if isinstance(value, list) else [value]
    return all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values
    )
