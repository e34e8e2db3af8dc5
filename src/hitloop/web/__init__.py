"""Server-rendered pages and the annotation app (static ES modules, no build step).

:func:`hitloop.web.pages.install_web` mounts both on the API's FastAPI app.
"""
