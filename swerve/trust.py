"""Which network classes a bundle may name: swerve's own, and those of modules the user trusts.

A bundle's ``config.json`` names each network's class by import path, and importing a module runs its code.
So a class path is checked against an allow-list *before anything is imported*: swerve's own network
modules (:data:`BUILTIN`), the modules trusted for the whole process (:func:`trust`, the ``SWERVE_TRUST``
environment variable, comma-separated, or ``swerve --trust MODULE``) and those one call trusts
(``swerve.load(path, trust=["mypkg.models"])``). A trusted name covers that module and its submodules; the
class must also be defined there (not merely reachable from it). Nothing is ever imported from a bundle's
own folder, trusted or not.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch

from swerve.errors import BundleError, ConfigError

# swerve's modules that define networks stored in bundles (the zoo's config.json files name only these)
BUILTIN = ("swerve.models", "swerve.diverge.can", "swerve.diverge.sparse_ae")
ENV = "SWERVE_TRUST"
_MODULE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
_trusted: set[str] = set()


def _checked(names: Iterable[Any], where: str) -> list[str]:
    out = []
    for name in names:
        if not isinstance(name, str) or not _MODULE.fullmatch(name):
            raise ConfigError(f"{where}: {name!r} is not a module name like 'mypkg.models'")
        out.append(name)
    return out


def trust(*modules: str) -> None:
    """Let bundles loaded from now on in this process use classes from ``modules`` (and their submodules);
    ``SWERVE_TRUST`` is extended too, so the processes it starts (sweep workers, launchers) trust them."""
    names = _checked(modules, "trust")
    _trusted.update(names)
    env = [name.strip() for name in os.environ.get(ENV, "").split(",") if name.strip()]
    if names:
        os.environ[ENV] = ",".join(dict.fromkeys([*env, *names]))


def trusted_modules(extra: Sequence[str] | None = None) -> tuple[str, ...]:
    """Every trusted module name: swerve's own, the process's, ``SWERVE_TRUST``'s and ``extra``."""
    env = [name.strip() for name in os.environ.get(ENV, "").split(",") if name.strip()]
    if isinstance(extra, str):
        extra = [extra]
    return (*BUILTIN, *sorted(_trusted), *_checked(env, ENV), *_checked(extra or (), "trust"))


def _covers(trusted: Sequence[str], module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in trusted)


def _outside(folder: Path, module: str) -> None:
    """Refuse a module whose top-level package would come from the bundle's folder (finding it imports
    nothing: only the top-level name is looked up)."""
    top = module.partition(".")[0]
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return  # the import below reports it
    if spec is None:
        return
    places = [spec.origin] if spec.origin and spec.has_location else []
    places += list(spec.submodule_search_locations or [])
    root = folder.resolve()
    for place in places:
        if Path(place).resolve().is_relative_to(root):
            raise BundleError(f"module {top!r} would be imported from the bundle's own folder; refusing it")


def resolve_class(
    path: str, trust: Sequence[str] | None = None, folder: str | os.PathLike | None = None
) -> type[torch.nn.Module]:
    """The ``nn.Module`` subclass a ``module:Class`` path names, from a trusted module only (checked before
    any import); ``folder`` is the bundle's directory, which no module may come from."""
    module_name, _, qualname = path.partition(":") if isinstance(path, str) else ("", "", "")
    if not _MODULE.fullmatch(module_name) or not all(p.isidentifier() for p in qualname.split(".")):
        raise BundleError(f"network class {path!r} is not of the form 'package.module:Class'")
    trusted = trusted_modules(trust)
    if not _covers(trusted, module_name):
        raise BundleError(
            f"network class {path!r} is not from a trusted module, and importing it would run its code; "
            f"if you trust it, pass --trust {module_name} (CLI), trust=[{module_name!r}] (Python) "
            f"or set {ENV}={module_name}"
        )
    if folder is not None:
        _outside(Path(folder), module_name)
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise BundleError(f"network class {path!r} cannot be imported: {exc}") from None
    if not (isinstance(obj, type) and issubclass(obj, torch.nn.Module)):
        raise BundleError(f"network class {path!r} is not a torch.nn.Module subclass; refusing to build it")
    if not _covers(trusted, obj.__module__):
        raise BundleError(
            f"network class {path!r} is defined in {obj.__module__}, which is not trusted; refusing it"
        )
    return obj
