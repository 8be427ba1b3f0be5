"""napari shell over the engine: dock widgets, the worker wiring and sample data.

Only this sub-package imports napari or Qt. Importing it does not import torch: the engine loads
when a widget is first opened.
"""
