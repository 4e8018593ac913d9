"""The template `run.py task new` fills in: a task package of one's own, trained on a CSV or an .npz.

`reader.py` is copied verbatim into every generated package (so that the package is
self-contained and its reader is part of its pinned source); `task.py.tmpl` becomes the package's
`__init__.py` with the schema and the normalisation constants written in.
"""
