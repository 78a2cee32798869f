"""Where the Python that pathway designers write runs: the restricted evaluator, and the pool of caged
processes that runs it away from the server.

The evaluator (``evaluator``) checks, rewrites and bounds scripts and expressions. It cannot stop a single C
call that holds the interpreter (a hash of a deeply nested tuple overflows the C stack; some built-in
operations allocate gigabytes or run for minutes without returning), so the engine never runs it in its own
process: ``pool`` hands each check, expression and script to a pre-started ``worker`` process with limits
on its memory, CPU time, files and core dumps, kills it at the time limit and starts another. Values cross
the boundary only as plain data (``boundary``).

Imports only the root modules (errors, clock) and never SpiffWorkflow, so that a worker starts quickly.
"""

from engine.sandbox.pool import SandboxedEvaluator, SandboxPool

__all__ = ["SandboxPool", "SandboxedEvaluator"]
