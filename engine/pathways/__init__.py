"""Pathways: deployed definitions and the instances that run them.

Owns deploying and approving versions, changing instances safely (one transaction under the instance's row
lock), firing due timers, the external service tasks that workers outside Signpost fetch and answer, and the
step pipeline — what one instance step sets off, in order (``pipeline.py``). May import notifications,
governance, bpmn and store; the features above it plug their stages into the pipeline rather than being
imported.
"""
