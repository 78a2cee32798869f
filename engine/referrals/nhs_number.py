"""NHS numbers: ten digits, the last a modulus-11 check digit, and how far each has been verified."""

from __future__ import annotations

from engine.errors import InvalidInput

WEIGHTS = range(10, 1, -1)

# The NHS Number Status Indicator (NHS Data Dictionary), in words, with its code. A number given without a
# status is recorded as present but not traced: a well-formed number is not yet a verified one.
VERIFICATION_CODES = {
    "verified": "01",
    "unverified": "02",
    "trace-required": "03",
    "trace-failed": "04",
    "trace-to-be-resolved": "05",
    "trace-in-progress": "06",
    "trace-postponed": "08",
}
VERIFICATION_STATUSES = tuple(VERIFICATION_CODES)
UNVERIFIED = "unverified"


def validate_nhs_number(raw: str) -> str:
    """The number as ten digits (spaces and dashes removed), or InvalidInput saying what is wrong."""
    digits = raw.replace(" ", "").replace("-", "")
    if len(digits) != 10 or not digits.isascii() or not digits.isdigit():
        raise InvalidInput(f"an NHS number has 10 digits; got {raw!r}")
    remainder = sum(int(d) * w for d, w in zip(digits[:9], WEIGHTS, strict=True)) % 11
    check = 11 - remainder
    if check == 11:
        check = 0
    if check == 10 or check != int(digits[9]):
        raise InvalidInput(f"{raw!r} is not a valid NHS number (its check digit does not match)")
    return digits


def checked_verification(subject: str | None, status: str | None) -> str | None:
    """The verification status to record for ``subject`` (a number given without one is unverified), or
    InvalidInput."""
    if subject is None:
        if status is not None:
            raise InvalidInput("'subject_verification' describes an NHS number; give the number in 'subject'")
        return None
    if status is None:
        return UNVERIFIED
    if status not in VERIFICATION_STATUSES:
        raise InvalidInput(
            f"unknown subject_verification {status!r}; one of {', '.join(VERIFICATION_STATUSES)}"
        )
    return status
