"""Pathway simulation: demand replayed against a pathway version in virtual time, on the real engine (the
same BPMN, DMN, routing, OLA clocks and calendars) in throw-away stores, to predict OLA compliance, queues and
where referrals wait before a change goes live (docs/simulation.md).

    profiles   what a simulation is given: arrivals by hour of week, each service's behaviour (read or fitted)
    hours      hours of the week, durations and their distributions, as profiles write them
    whatifs    demand scaled, a service closed on a day, a target changed, capacity changed
    samples    the data simulated people give: start data, task data, external task answers
    staffing   a service's people: a SimPy resource whose size follows the hour of the week
    people     services, operators, referrers and systems as SimPy processes acting through the engine
    world      one run: SimPy's clock drives the engine's virtual clock, timers and OLA checks
    runner     arms and runs in scratch stores, progress and cancelling; results: figures across runs
    fit        demand and behaviour fitted from a period of history; history: a generated history, back-test
    report     the figures as JSON, CSV and an HTML report with inline SVG charts

It sits in the top layer with ``system`` and ``scenarios``: it builds Signposts of its own.
"""
