"""The sketch pad: a picture drawn on the page, rendered through a translation (pix2pix) model with the
page's bends. The drawing arrives as a PNG data URL; it is read like any picture (swerve.data.picture) by
:func:`swerve.translate.drawing_input`. A kept sketch's recipe carries the drawing (its PNG bytes and their
hash), so :func:`swerve.studio.recipe.render_recipe` remakes the picture bit for bit."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from PIL import Image

from swerve.errors import ConfigError
from swerve.look.grid import upscale
from swerve.studio.recipe import Recipe, sketch_entry, to_picture, write_recipe
from swerve.translate import input_shape

PREFIX = "data:image/png;base64,"


def decode_drawing(data_url: str) -> bytes:
    """The PNG bytes of a ``data:image/png;base64,`` URL; a ConfigError for anything else."""
    if not data_url.startswith(PREFIX):
        raise ConfigError("the drawing must be a PNG data URL (data:image/png;base64,...)")
    try:
        return base64.b64decode(data_url[len(PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError("the drawing's base64 data is not valid") from None


def sketch_recipe(studio, body) -> Recipe:  # noqa: ANN001 - a Studio and a SketchIn
    """The recipe of ``body.picture`` through ``body.model`` with ``body.bends``: the model (it must
    translate) and the bends checked; a drawing that is not a picture is refused when it is read."""
    key = studio.models.resolve(body.model)
    bundle = studio.models.get(key)
    input_shape(bundle)  # a BundleError unless the model translates pictures
    bends = studio.check_bends(bundle, body.bends)
    sketch = sketch_entry(decode_drawing(body.picture), body.as_target)
    return Recipe(bundle=key, z=[], bends=bends, sketch=sketch)  # drawing it reads the picture first


def render_sketch(studio, body) -> Image.Image:  # noqa: ANN001 - a Studio and a SketchIn
    """``body.picture`` through ``body.model`` with ``body.bends``, as the page shows it."""
    recipe = sketch_recipe(studio, body)
    return to_picture(studio.draw(recipe), studio.models.get(recipe.bundle))


def keep_sketch(studio, body) -> dict[str, Any]:  # noqa: ANN001 - a Studio and a SketchIn
    """Keep the rendered sketch: the picture (recipe inside, drawing included) and the recipe JSON in the
    studio's output folder, as :meth:`Studio.keep` does for a sample."""
    recipe = sketch_recipe(studio, body)
    picture = to_picture(studio.draw(recipe), studio.models.get(recipe.bundle))
    png, js = write_recipe(recipe, upscale(picture, 256), studio.out_dir / f"{studio.stem('keep')}.png")
    return {"png": png.name, "json": js.name, "recipe": recipe.to_dict()}
