"""Which models the studio may open: the zoo, and bundles under the directories the user allowed.

The browser names a model by an id: a zoo name, or the absolute path of a bundle directory. A path is
only opened when, with every symlink and ``..`` resolved, it lies under one of the allowed roots, so nothing
else on disk is reachable from the page.
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from swerve import zoo
from swerve.bundle import CONFIG_NAME, FORMAT, Bundle, load
from swerve.errors import ConfigError

MAX_LISTED = 200  # bundles listed per root, so a huge directory cannot stall the page
MAX_DEPTH = 3  # how deep under a root bundles are looked for
MAX_ID = 4096  # characters in a model id


class Forbidden(ConfigError):
    """A path outside the allowed roots."""


class Models:
    """The allowed models, and a small cache of loaded ones (most recently used kept)."""

    def __init__(self, roots: list[str | os.PathLike] | None = None, device: str = "cpu", keep: int = 4):
        self.roots = [Path(r).resolve() for r in roots or []]
        for root in self.roots:
            if not root.is_dir():
                raise ConfigError(f"allowed directory {root} does not exist")
        self.device = device
        self.keep = keep
        self._loaded: OrderedDict[str, Bundle] = OrderedDict()
        self._lock = threading.Lock()

    def resolve(self, model_id: str) -> str:
        """The canonical id of ``model_id`` (zoo name or resolved directory), or a refusal naming why."""
        if not isinstance(model_id, str) or not model_id or len(model_id) > MAX_ID or "\x00" in model_id:
            raise ConfigError("a model id must be a zoo name or a bundle directory path")
        if zoo.zoo_path(model_id) is not None:
            return model_id
        path = Path(model_id)
        if not path.is_absolute():
            raise ConfigError(f"unknown model {model_id!r}: not a zoo name ({', '.join(zoo.zoo_names())})")
        try:
            real = path.resolve()
        except (OSError, RuntimeError) as exc:  # a symlink loop, a name too long for the file system
            raise ConfigError(f"{model_id} cannot be read as a bundle directory: {exc}") from None
        if not any(real == root or real.is_relative_to(root) for root in self.roots):
            raise Forbidden(f"{model_id} is outside the directories the studio was allowed to read")
        if not (real / CONFIG_NAME).is_file():
            raise ConfigError(f"{model_id} is not a bundle directory (it has no {CONFIG_NAME})")
        return str(real)

    def get(self, model_id: str) -> Bundle:
        """The loaded bundle for ``model_id`` (loaded once, then kept while it is among the recent few)."""
        key = self.resolve(model_id)
        with self._lock:
            if key in self._loaded:
                self._loaded.move_to_end(key)
                return self._loaded[key]
        bundle = load(key, device=self.device)
        with self._lock:
            self._loaded[key] = bundle
            while len(self._loaded) > self.keep:
                self._loaded.popitem(last=False)
        return bundle

    def listing(self) -> list[dict[str, Any]]:
        """Every model the page may pick: id, name, where from, and what it makes."""
        found = [_summary(name, zoo.zoo_path(name), "zoo") for name in zoo.zoo_names()]
        for root in self.roots:
            for directory in _bundle_dirs(root):
                found.append(_summary(str(directory), directory, str(root)))
        return [entry for entry in found if entry is not None]


def _bundle_dirs(root: Path) -> list[Path]:
    dirs: list[Path] = []
    for here, subdirs, files in os.walk(root, followlinks=False):
        depth = len(Path(here).relative_to(root).parts)
        subdirs[:] = sorted(d for d in subdirs if not d.startswith(".")) if depth < MAX_DEPTH else []
        if CONFIG_NAME in files:
            dirs.append(Path(here))
            subdirs[:] = []  # a bundle's own folder holds no further bundles
        if len(dirs) >= MAX_LISTED:
            break
    return dirs


def _summary(model_id: str, directory: Path | None, source: str) -> dict[str, Any] | None:
    """What the model list shows, read from config.json alone (no weights are loaded)."""
    if directory is None:
        return None
    try:
        config = json.loads((directory / CONFIG_NAME).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        return None
    data, networks = _mapping(config.get("data")), _mapping(config.get("networks"))
    generator = _mapping(networks.get("generator"))
    shape, classes = data.get("shape"), data.get("classes")
    shape = shape if isinstance(shape, list) else []
    text = isinstance(_mapping(config.get("extra")).get("vocab"), list) and len(shape) == 2
    usable = bool(generator) and bool(config.get("latent")) and (len(shape) == 3 or text)
    name = config.get("name")
    translation = bool(generator) and "translation" in _mapping(config.get("extra"))
    why_not = (
        "a translation model: draw for it on the sketch pad"
        if translation
        else ("the studio draws image and text generators; this bundle has none")
    )
    return {
        "id": model_id,
        "name": name if isinstance(name, str) and name else directory.name,
        "source": source,
        "shape": shape,
        "classes": classes if isinstance(classes, list) else [],
        "usable": usable,
        "why_not": "" if usable else why_not,
        "generator": {"class": generator.get("class"), "kwargs": _mapping(generator.get("kwargs"))},
        "translation": translation,
        "text": text,
    }


def _mapping(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one (a malformed config is listed, not a crash)."""
    return value if isinstance(value, dict) else {}
