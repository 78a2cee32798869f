"""Signpost's domain core: pathway definitions, process instances, timers and their store.

Nothing here knows about HTTP; ``api/`` calls in, never the other way round.
"""
