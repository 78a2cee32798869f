"""Pathways: deployed definitions and the instances that run them.

Owns deploying, checking (a dry run) and approving versions, making them go live per point of access (staged
go-live: ``go_lives.py``, its rule in ``go_live_rule.py``), the library that lists them (``library.py``),
the task forms deployed with them and the check of a task's data against its form (``forms.py``), blueprints
with local variants per point of access, each approved on its own (``blueprints.py``, ``variants.py``), the
format of the scenario files deployed with them (``scenario_files.py``; engine/scenarios/ runs them), changing
instances safely (one transaction under the instance's row lock), firing due timers, the external service
tasks that workers outside Signpost fetch and answer, and the step pipeline — what one instance step sets
off, in order (``pipeline.py``). May import notifications, governance, bpmn and store; the features above it
plug their stages into the pipeline rather than being imported.
"""
