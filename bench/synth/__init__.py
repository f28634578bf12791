"""Synthetic, labelled histories for evaluating the anomaly detector (test support, not shipped).

``volunteers`` is the realistic generator (messy volunteer networks, events after real ones);
``legacy`` is the first, kinder generator, kept as a regression set; ``history`` scores both.
Import with ``bench/`` on ``sys.path`` (bench scripts have it; tests/anomaly/conftest.py adds it).
"""
