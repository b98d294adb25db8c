"""The checkpoint metadata schema: every value is checked before anything is allocated from it."""

from __future__ import annotations

import math
from typing import Any

from reid_model.embedders import INPUT_SIZE as MODEL_INPUT_SIZE

#: Largest metadata file read (bytes) and deepest nesting accepted in it.
MAX_METADATA_BYTES = 16_000_000
MAX_DEPTH = 32
#: Largest network built from a checkpoint's ``arch_config`` (parameters, estimated before building).
MAX_PARAMETERS = 50_000_000
INPUT_SIZE = list(MODEL_INPUT_SIZE)


class SchemaError(ValueError):
    """One metadata value broke the schema; the message names the key, the value and what was expected."""


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _fail(key: str, value: object, expected: str) -> SchemaError:
    return SchemaError(f"{key} must be {expected}, got {_short(value)}")


def _int(key: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _fail(key, value, f"an integer in [{low}, {high}]")
    return value


def _float(key: str, value: object, low: float, high: float, *, open_low: bool = False) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not (low < value if open_low else low <= value) or not value <= high:  # type: ignore[operator]
        raise _fail(key, value, f"a finite number in {'(' if open_low else '['}{low}, {high}]")
    return float(value)  # type: ignore[arg-type]


def check_depth(value: object, key: str = "metadata") -> None:
    """Refuse JSON nested deeper than :data:`MAX_DEPTH` (checked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise SchemaError(f"{key} must be nested at most {MAX_DEPTH} levels deep, got deeper")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)


def _stripe_parameters(widths: list[int], stripes: int, embedding_dim: int) -> int:
    total, cin = 27 * widths[0], widths[0]
    for width in widths:
        total += 9 * cin * width + 27 * width * width + cin * width
        cin = width
    return total + cin * (1 + stripes) * embedding_dim


def check_arch_config(arch: str, config: object) -> dict[str, Any]:
    """Check ``arch_config`` for ``arch`` (allowed keys, types, ranges, size); return it."""
    if not isinstance(config, dict):
        raise _fail("arch_config", config, "a JSON object")
    allowed = {
        "triplet": {"dropout"},
        "stripe": {"widths", "stripes", "embedding_dim", "dropout"},
        "color_stripes": {"bins", "stripes", "embedding_dim"},
        "lomo_xqda": {"retinex", "flip", "embedding_dim"},
        "fused": {"parts", "weights"},
    }.get(arch)
    if allowed is None:  # an architecture registered by the user: its class checks its config
        return config
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise SchemaError(
            f"arch_config for {arch!r} has unknown key(s) {unknown}, expected only {sorted(allowed)}"
        )
    if "dropout" in config:
        _float("arch_config.dropout", config["dropout"], 0.0, 0.99)
    if "embedding_dim" in config:
        _int("arch_config.embedding_dim", config["embedding_dim"], 1, 8192)
    if arch == "stripe":
        widths = config.get("widths", [32, 64, 128, 256])
        if not isinstance(widths, list) or not 1 <= len(widths) <= 8:
            raise _fail("arch_config.widths", widths, "a list of 1 to 8 integers")
        for i, width in enumerate(widths):
            _int(f"arch_config.widths[{i}]", width, 1, 2048)
        stripes = _int("arch_config.stripes", config.get("stripes", 4), 1, 128)
        parameters = _stripe_parameters(widths, stripes, config.get("embedding_dim", 256))
        if parameters > MAX_PARAMETERS:
            raise SchemaError(
                f"arch_config {_short(config)} would build about {parameters:,} parameters, "
                f"expected at most {MAX_PARAMETERS:,}"
            )
    if arch == "color_stripes":
        bins = _int("arch_config.bins", config.get("bins", 4), 2, 16)
        stripes = config.get("stripes", 8)
        if _int("arch_config.stripes", stripes, 1, 128) and INPUT_SIZE[0] % stripes:
            raise _fail("arch_config.stripes", stripes, f"a divisor of the input height {INPUT_SIZE[0]}")
        parameters = bins**3 * stripes * (config.get("embedding_dim", 44) + 1)
        if parameters > MAX_PARAMETERS:
            raise SchemaError(
                f"arch_config {_short(config)} would build about {parameters:,} parameters, "
                f"expected at most {MAX_PARAMETERS:,}"
            )
    if arch == "lomo_xqda":
        for key in ("retinex", "flip"):
            if not isinstance(config.get(key, True), bool):
                raise _fail(f"arch_config.{key}", config[key], "true or false")
    if arch == "fused":
        _check_fused(config)
    return config


def _check_fused(config: dict[str, Any]) -> None:
    """``parts``: 1 to 4 of ``{"arch", "config", "mean", "std"}``, none fused; ``weights``: one > 0 each."""
    parts, weights = config.get("parts"), config.get("weights")
    if not isinstance(parts, list) or not 1 <= len(parts) <= 4:
        raise _fail("arch_config.parts", parts, "a list of 1 to 4 parts")
    if not isinstance(weights, list) or len(weights) != len(parts):
        raise _fail("arch_config.weights", weights, f"a list of {len(parts)} numbers, one per part")
    for i, weight in enumerate(weights):
        _float(f"arch_config.weights[{i}]", weight, 0.0, 1e6, open_low=True)
    for i, part in enumerate(parts):
        if not isinstance(part, dict) or set(part) != {"arch", "config", "mean", "std"}:
            raise _fail(
                f"arch_config.parts[{i}]", part, 'a JSON object with the keys "arch", "config", "mean", "std"'
            )
        if part["arch"] not in ("triplet", "stripe", "color_stripes", "lomo_xqda"):
            raise _fail(
                f"arch_config.parts[{i}].arch", part["arch"], "one of the built-in architectures, not fused"
            )
        try:
            check_arch_config(part["arch"], part["config"])
            check_normalization({"mean": part["mean"], "std": part["std"]})
        except SchemaError as exc:
            raise SchemaError(f"arch_config.parts[{i}]: {exc}") from exc


def check_normalization(norm: object) -> dict[str, list[float]]:
    """Check ``normalization``: ``{"mean": [3 numbers in [0, 1]], "std": [3 numbers in (0, 10]]}``."""
    if not isinstance(norm, dict) or set(norm) != {"mean", "std"}:
        raise _fail("normalization", norm, 'a JSON object with exactly the keys "mean" and "std"')
    for key, low, open_low, high in (("mean", 0.0, False, 1.0), ("std", 0.0, True, 10.0)):
        values = norm[key]
        if not isinstance(values, list) or len(values) != 3:
            raise _fail(f"normalization.{key}", values, "a list of 3 numbers (R, G, B)")
        for i, v in enumerate(values):
            _float(f"normalization.{key}[{i}]", v, low, high, open_low=open_low)
    return norm


def check_metadata(meta: dict[str, Any]) -> None:
    """Check the typed keys of checkpoint metadata (``format`` and ``arch`` are checked by the caller)."""
    check_depth(meta)
    arch = meta["arch"]
    config = check_arch_config(arch, meta.get("arch_config", {}))
    if "normalization" in meta:
        check_normalization(meta["normalization"])
    if "input_size" in meta and meta["input_size"] != INPUT_SIZE:
        raise _fail("input_size", meta["input_size"], f"{INPUT_SIZE} (height, width)")
    if "embedding_dim" in meta and arch in ("triplet", "stripe", "color_stripes"):
        expected = {"triplet": 128}.get(arch, config.get("embedding_dim", 256 if arch == "stripe" else 44))
        if isinstance(meta["embedding_dim"], bool) or meta["embedding_dim"] != expected:
            raise _fail(
                "embedding_dim", meta["embedding_dim"], f"{expected} (from arch {arch!r} and arch_config)"
            )
