"""A restricted unpickler for NVIDIA StyleGAN network pickles: data only, never code.

An NVIDIA ``.pkl`` stores each network as a call to ``torch_utils.persistence._reconstruct_persistent_obj``
with a dict holding the *source code* of the module that defines it, the class name and the object's
``__dict__`` (parameters, buffers, submodules, constructor arguments). Loading it with ``pickle`` runs that
source code. Here every global the file names is looked up in a short allowlist and mapped to a harmless
stand-in: the persistence hook becomes :class:`PersistentRecord` (the source text is kept as a string and
never compiled), tensors are rebuilt through ``torch.load(..., weights_only=True)``, ``EasyDict`` becomes a
plain dict, and numpy arrays are decoded from their raw bytes for numeric dtypes only. A file that names any
other global (``os.system``, ``builtins.eval``, a module of its own) is refused before anything is called
or imported.
"""

from __future__ import annotations

import io
import pickle
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from swerve.errors import BundleError


class UnsafePickleError(BundleError):
    """A pickle asks for something other than tensors, plain containers and network records."""


@dataclass
class PersistentRecord:
    """What a persistent network object in the pickle *says* it is: a class name and its saved state."""

    class_name: str
    state: dict[str, Any]
    module_src: str = field(default="", repr=False)  # kept as text, never executed

    @property
    def init_kwargs(self) -> dict[str, Any]:
        return dict(self.state.get("_init_kwargs") or {})

    @property
    def init_args(self) -> tuple:
        return tuple(self.state.get("_init_args") or ())

    def state_dict(self, prefix: str = "") -> dict[str, torch.Tensor]:
        """Parameters and persistent buffers of this record and its submodules, with dotted names."""
        out: dict[str, torch.Tensor] = {}
        skip = set(self.state.get("_non_persistent_buffers_set") or ())
        for group in ("_parameters", "_buffers"):
            for name, value in (self.state.get(group) or {}).items():
                if isinstance(value, torch.Tensor) and name not in skip:
                    out[prefix + name] = value.detach()
        for name, child in (self.state.get("_modules") or {}).items():
            if isinstance(child, PersistentRecord):
                out.update(child.state_dict(f"{prefix}{name}."))
            elif child is not None:
                raise UnsafePickleError(
                    f"submodule {prefix}{name} is not a network record ({type(child).__name__})"
                )
        return out


def _persistent_record(meta: Any) -> PersistentRecord:
    if (
        not isinstance(meta, dict)
        or meta.get("type") != "class"
        or not isinstance(meta.get("class_name"), str)
    ):
        raise UnsafePickleError("a persistent object in the pickle has no class name; refusing it")
    state = meta.get("state")
    if not isinstance(state, dict):
        raise UnsafePickleError(f"persistent object {meta['class_name']} has no state dict; refusing it")
    return PersistentRecord(meta["class_name"], state, str(meta.get("module_src", "")))


class _AttrDict(dict):
    """Stand-in for ``dnnlib.EasyDict``: a plain dict (pickle restores its items; nothing else)."""

    def __setstate__(self, state: Any) -> None:
        pass


def weights_only_refusal(exc: BaseException) -> str:
    """Why ``torch.load(weights_only=True)`` refused something, in one short clause. Its own message runs to
    several lines and suggests turning the check off, which is the one thing not to do with such a file."""
    text = str(exc)
    found = re.search(r"GLOBAL ([\w.]+)", text)
    if found:
        return f"it asks for {found.group(1)}, which could run code"
    skip = ("Weights only load failed", "Please file an issue", "Check the documentation")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith(skip)]
    return lines[0] if lines else type(exc).__name__


def _storage_from_bytes(data: bytes) -> Any:
    """Storages inside a plain pickle are small ``torch.save`` payloads: load them without pickle code."""
    if not isinstance(data, bytes):
        raise UnsafePickleError("a tensor storage in the pickle is not bytes")
    try:
        return torch.load(io.BytesIO(data), weights_only=True)
    except Exception as exc:
        reason = weights_only_refusal(exc)
        raise UnsafePickleError(
            f"a tensor storage in the pickle could not be read safely: {reason}"
        ) from None


_NUMERIC_KINDS = "biufc"  # bool, signed, unsigned, float, complex


class _DType:
    """Stand-in for ``numpy.dtype`` while unpickling: only numeric dtypes are accepted."""

    def __init__(self, name: str, align: bool = False, copy: bool = True) -> None:
        self.np = np.dtype(str(name))
        if self.np.kind not in _NUMERIC_KINDS:
            raise UnsafePickleError(f"numpy dtype {name!r} in the pickle is not numeric; refusing it")

    def __setstate__(self, state: tuple) -> None:
        if len(state) > 1 and state[1] in ("<", ">"):
            self.np = self.np.newbyteorder(state[1])


class _Array:
    """Stand-in for a pickled numpy array; ``value`` holds the decoded array."""

    def __init__(self, *args: Any) -> None:
        self.value: np.ndarray | None = None

    def __setstate__(self, state: tuple) -> None:
        _, shape, dtype, _fortran, raw = state[:5]
        if not isinstance(dtype, _DType) or not isinstance(raw, bytes):
            raise UnsafePickleError("a numpy array in the pickle holds objects, not numbers; refusing it")
        self.value = np.frombuffer(raw, dtype=dtype.np).reshape(shape).copy()


def _np_scalar(dtype: Any, raw: Any = b"") -> Any:
    if not isinstance(dtype, _DType) or not isinstance(raw, bytes):
        raise UnsafePickleError("a numpy scalar in the pickle is not numeric; refusing it")
    return np.frombuffer(raw, dtype=dtype.np)[0].item()


def _np_reconstruct(cls: Any, shape: Any, dtype: Any) -> _Array:
    return _Array()


_ALLOWED: dict[tuple[str, str], Any] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _persistent_record,
    ("dnnlib.util", "EasyDict"): _AttrDict,
    ("dnnlib", "EasyDict"): _AttrDict,
    ("collections", "OrderedDict"): OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _storage_from_bytes,
}
for _np_module in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _ALLOWED[(_np_module, "_reconstruct")] = _np_reconstruct
    _ALLOWED[(_np_module, "scalar")] = _np_scalar
_ALLOWED[("numpy", "ndarray")] = _Array
_ALLOWED[("numpy", "dtype")] = _DType


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the globals in the allowlist; anything else stops the load with a clear message."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"the pickle asks for {module}.{name}, which could run code; swerve reads only tensors, "
                "plain containers and StyleGAN network records from a pickle, so it refuses the file"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError("the pickle uses persistent ids (not a StyleGAN network pickle); refusing it")


def _plain(value: Any) -> Any:
    """Replace numpy stand-ins by numbers or lists and EasyDicts by dicts, recursively."""
    if isinstance(value, _Array):
        return value.value.tolist() if value.value is not None else None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


def safe_load_pickle(data: bytes, source: str = "the file") -> Any:
    """Unpickle ``data`` with the allowlist; init kwargs inside network records come back as plain values.
    ``source`` names the file in error messages."""
    try:
        obj = RestrictedUnpickler(io.BytesIO(data)).load()
    except UnsafePickleError:
        raise
    except Exception as exc:  # truncated or malformed file
        raise BundleError(
            f"{source} is not a readable StyleGAN pickle: {type(exc).__name__}: {exc}"
        ) from None
    _clean(obj, set())
    return obj


def _clean(obj: Any, seen: set[int]) -> None:
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, PersistentRecord):
        for key in ("_init_kwargs", "_init_args"):
            if key in obj.state:
                obj.state[key] = _plain(obj.state[key])
        for child in (obj.state.get("_modules") or {}).values():
            _clean(child, seen)
    elif isinstance(obj, dict):
        for value in obj.values():
            _clean(value, seen)
