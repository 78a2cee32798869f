"""Signpost's domain core. Nothing here knows about HTTP: ``api/`` calls in, never the other way round.

One package per feature, each importing only from the packages below it (tests/test_architecture.py):

    scenarios       scenario files of pathways run in virtual time in throw-away stores, with path
                    coverage (beside ``system`` and ``settings``: it builds whole Signposts of its own)
    referrals       referrals, their views, FHIR, NHS numbers, personal data
    routing         the service directory and hand-offs between services
    olas            OLA terms, obligation clocks, calendars
    pathways        definitions, instances, timers, the step pipeline
    notifications   milestones, subscriptions, channels, deliveries, secrets at rest
    governance      clients, access, audit, OpenID Connect, rate limits, idempotency
    bpmn            SpiffWorkflow behind a sealed seam, the XML guard
    sandbox         the expression evaluator, and the caged processes pathway code runs in
    store           tables, migrations, and each feature's SQL in a module named for its tables

At the root: ``clock`` (the only reader of the wall clock, virtual inside a scenario run), ``errors`` (the
one exception tree), ``metrics``, ``key_files`` (development keys kept beside a local database),
``settings`` and ``system`` (the composition root that builds everything from settings).
"""
