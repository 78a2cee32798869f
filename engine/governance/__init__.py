"""Information governance: who is calling, what they may see, and the record of what they did.

Owns API clients and their tokens, OpenID Connect bearer JWTs, the one rule of who sees a referral
(``access``), the audit trail (keyed and chained: ``audit``, ``audit_chain``, ``audit_keys``), rate limits,
and the idempotency of repeated requests. May import store only (and the root modules).
"""
