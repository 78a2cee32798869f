"""The engine's exception tree. Errors carry domain meaning only; ``api/errors.py`` maps them to HTTP.

SignpostError
├── ExpressionError                a pathway's expression or script is refused or fails
│   ├── ExpressionRejected         refused before running (syntax, forbidden construct)
│   └── ExpressionFailed           raised while running
│       └── ExpressionTimeout      ran past the time bound
├── StepFailed                     an automated step of an instance failed (it becomes an incident)
├── BpmnErrorThrown                a pathway script threw a BPMN error for an error event to catch
├── DefinitionInvalid              a deployment failed validation (carries every problem found)
├── NotFound                       no such definition, version, referral, task, client…
├── Conflict                       the request contradicts the current state
│   ├── IdempotencyConflict        an Idempotency-Key reused with a different request
│   ├── TaskNotReady               the task is not (or no longer) waiting to be worked
│   ├── NoMatchingWait             nothing waits for the message that was sent
│   ├── IllegalTransition          the hand-off action is not allowed from its status (lists what is)
│   ├── InstanceBusy               another process holds the instance and the caller would not wait
│   ├── LeaseLost                  the worker does not hold the external task's lease (expired or never)
│   └── DuplicateKey               the store already holds a row with that key (a race lost)
├── PreconditionFailed             If-Match names a version that is no longer current
├── InvalidInput                   well-formed request whose content makes no sense
│   └── FormDataInvalid            the data completing a task does not fit the task's form (per field)
├── NotAuthenticated               no, unknown or revoked credentials
├── NotAllowed                     authenticated, but the role or organisation does not permit it
├── RateLimited                    the caller has made too many requests for now
├── SecretKeysUnavailable          no key to encrypt stored secrets with: the engine must not start
│   └── AuditKeysUnavailable       no key (or a malformed one) to sign the audit trail with
└── SecretUnreadable               a stored secret that none of the keys decrypts

``Problem`` is not an error: one located validation problem, as DefinitionInvalid carries them.
"""

from __future__ import annotations

from dataclasses import dataclass


class SignpostError(Exception):
    """Root of every error the engine raises on purpose."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ExpressionError(SignpostError):
    """An expression or script from a pathway is refused or fails. ``line`` and ``column`` (both from 1) say
    where in ``source``, when known."""

    def __init__(
        self, message: str, *, line: int | None = None, source: str | None = None, column: int | None = None
    ):
        super().__init__(message)
        self.line = line
        self.column = column
        self.source = source


class ExpressionRejected(ExpressionError):
    """Refused before running: a syntax error or a construct the evaluator does not allow."""


class ExpressionFailed(ExpressionError):
    """Raised while running: a missing name, a division by zero, a type error…"""


class ExpressionTimeout(ExpressionFailed):
    """Ran longer than the evaluator's time bound."""


@dataclass(frozen=True)
class Problem:
    """One validation problem in a deployed file, located as precisely as the source allows."""

    file: str
    message: str
    element_id: str | None = None
    line: int | None = None
    element_name: str | None = None  # the element's name in the diagram, as the designer sees it

    def describe(self) -> str:
        where = [self.file]
        if self.element_id:
            named = f' "{self.element_name}"' if self.element_name else ""
            where.append(f"element '{self.element_id}'{named}")
        if self.line:
            where.append(f"line {self.line}")
        return f"{', '.join(where)}: {self.message}"

    def as_dict(self) -> dict:
        return {
            "file": self.file,
            "element_id": self.element_id,
            "element_name": self.element_name,
            "line": self.line,
            "message": self.message,
        }


class StepFailed(SignpostError):
    """An automated step (script, gateway, timer expression, decision, service call) failed; the step is
    not saved and the instance is marked as an incident naming the task."""

    def __init__(self, message: str, *, element_id: str | None, task_name: str | None):
        super().__init__(message)
        self.element_id = element_id
        self.task_name = task_name


class BpmnErrorThrown(SignpostError):
    """A pathway script called ``bpmn_error(code, message)``: the engine throws the BPMN error ``code`` from
    the script task, for an error boundary event to catch (nothing catching it is a StepFailed)."""

    def __init__(self, code: str, message: str | None = None):
        super().__init__(f"BPMN error '{code}'" + (f": {message}" if message else ""))
        self.code = code
        self.error_message = message


class DefinitionInvalid(SignpostError):
    """A deployment failed validation; nothing of it was stored."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(problem.describe() for problem in problems))
        self.problems = problems


class NotFound(SignpostError):
    """The named thing does not exist (or is not visible to the caller)."""


class Conflict(SignpostError):
    """The request contradicts the current state of what it addresses."""


class IdempotencyConflict(Conflict):
    """An Idempotency-Key was reused with a different request body."""


class TaskNotReady(Conflict):
    """The task cannot be claimed or completed in its current state."""


class NoMatchingWait(Conflict):
    """A message was sent that no instance is waiting for."""


class IllegalTransition(Conflict):
    """The action is not allowed from the hand-off's current status; ``allowed`` lists what is."""

    def __init__(self, message: str, *, allowed: list[str]):
        super().__init__(message)
        self.allowed = allowed


class InstanceBusy(Conflict):
    """Another transaction holds the instance's row lock and the caller asked not to wait."""


class LeaseLost(Conflict):
    """A worker answered for an external task whose lease it does not hold: it never locked the task, its
    lease expired, or another worker has locked it since."""


class DuplicateKey(Conflict):
    """A write met a row that already holds its unique key: another request made it first."""


class PreconditionFailed(SignpostError):
    """The caller's If-Match names a version that is no longer current."""


class InvalidInput(SignpostError):
    """The request is well formed but its content cannot be acted on."""


class FormDataInvalid(InvalidInput):
    """The data sent to complete a user task does not fit the task's form; ``errors`` lists each field's
    problem as ``{"field": <key>, "message": <what is wrong>}``."""

    def __init__(self, message: str, *, errors: list[dict[str, str]]):
        super().__init__(message)
        self.errors = errors


class NotAuthenticated(SignpostError):
    """No credentials, or credentials that match no active client."""


class NotAllowed(SignpostError):
    """The client is known but its role or organisation does not permit this."""


class RateLimited(SignpostError):
    """The caller has used its allowance of requests; it may try again after ``retry_after_seconds``."""

    def __init__(self, message: str, *, retry_after_seconds: int):
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class SecretKeysUnavailable(SignpostError):
    """No usable key to encrypt secrets with: the engine must not start."""


class AuditKeysUnavailable(SecretKeysUnavailable):
    """No usable key to sign the audit trail with: the engine must not start."""


class SecretUnreadable(SignpostError):
    """A stored secret that none of the keys decrypts."""
