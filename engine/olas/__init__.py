"""Two-way operating level agreements: terms, obligation clocks and calendars.

Owns the OLA terms (``olas.toml``), the business-time calendars and their closures, the clock of each
obligation on each hand-off (started, paused, resumed and stopped by hand-off events), warnings, breaches
and compliance reports. May import pathways (a warning or breach reaches the pathway as a message),
notifications, governance, bpmn and store — never routing or referrals.
"""
