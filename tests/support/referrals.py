"""Referral bodies more than one test module submits."""

from __future__ import annotations

POSTCODE = "LE1 5WW"
# A complete routine community nursing referral, as a GP practice's system sends it to POST /api/v1/referrals
# (the NHS number spaced as people write it): triaged and routed at once to City community nursing.
REFERRAL = {
    "pathway": "community_nursing_referral",
    "referrer": "C81001",
    "subject": "943 476 5919",
    "data": {"clinical_need": "medication", "address_postcode": POSTCODE, "housebound": False},
}
