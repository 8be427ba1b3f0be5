"""The restoration engine: arrays, operators, networks, the fitting loop, stopping, metrics.

Nothing in here imports napari or Qt.
"""
