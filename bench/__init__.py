"""``make bench``: every figure of docs/performance.md, each next to a baseline measured in the same run.

``bench/run.py`` is the entry point; each phase runs in its own Python process (``python -m
bench.<phase>``) so that moto's state, the handlers' module globals and memory never leak from one
measurement into the next.
"""
