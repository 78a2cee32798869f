"""Routing between services: the service directory and hand-offs.

Owns the directory (``services.toml``), the ``signpost.route`` operation that pathways call, and each
hand-off's FHIR Task lifecycle with its transitions. Each transition moves the hand-off's OLA clocks, so it
may import olas, and pathways (hand-off events reach the pathway as messages), notifications, governance,
bpmn and store — never referrals.
"""
