"""Signpost's domain core. Nothing here knows about HTTP: ``api/`` calls in, never the other way round.

One package per feature, each importing only from the packages below it (tests/test_architecture.py):

    referrals       referrals, their views, FHIR, NHS numbers, personal data
    routing         the service directory and hand-offs between services
    olas            OLA terms, obligation clocks, calendars
    pathways        definitions, instances, timers, the step pipeline
    notifications   milestones, subscriptions, channels, deliveries, secrets at rest
    governance      clients, access, audit, OpenID Connect, rate limits, idempotency
    bpmn            SpiffWorkflow behind a sealed seam, the expression evaluator, the XML guard
    store           tables, migrations, and each feature's SQL in a module named for its tables

At the root: ``clock`` (the only reader of the wall clock), ``errors`` (the one exception tree),
``metrics``, ``settings`` and ``system`` (the composition root that builds everything from settings).
"""
