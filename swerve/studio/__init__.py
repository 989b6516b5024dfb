"""swerve studio: a local web page for exploring, bending and blending models, and keeping what you make.

``swerve studio`` serves it (FastAPI + uvicorn, the optional ``studio`` extra); the page is plain HTML, CSS
and JavaScript in ``static/``. The work is done by :mod:`swerve.studio.engine` over the Python API, and every
kept picture carries a :mod:`swerve.studio.recipe` that remakes it bit for bit without the server.
"""
