"""Revisit: the shared code of every function (domain services, data access, HTTP glue).

Dependencies point one way: ``http`` -> ``domain`` -> ``dal``. Nothing here imports a function.
"""
