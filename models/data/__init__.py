"""Synthetic speech corpus for the default bundle: voices, texts, augmentation, build CLI, audit.

Nothing here runs at import time; entry points are `python -m models.data.build_corpus`
and `python -m models.data.audit`.
"""
