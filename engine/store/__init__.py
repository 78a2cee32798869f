"""Persistence: the schema (``tables``), migrations, transactions (``db``) and every query the engine runs,
in one module per feature named for the tables it owns. Imports nothing of the engine but the root modules.
"""
