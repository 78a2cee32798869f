"""Referrals: a pathway started for one person, and everything said about it.

Owns starting referrals (with their point of access and idempotency), the referral's plain-language view
and timeline, the read-only FHIR R4 views, NHS number checks, subject access and the redaction of personal
data, and repeat contacts matched to a person's open referral and recorded on it. The top feature: it may
import routing, olas, pathways, notifications, governance, bpmn and store.
"""
