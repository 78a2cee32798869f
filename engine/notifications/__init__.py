"""Progress notifications: milestones, subscriptions, channels and deliveries.

Owns the milestones of a referral's journey, webhook and email subscriptions with their per-subscription
numbering, the leased, ordered and retried deliveries of the outbox, the network edge (``channels``) and
the encryption of webhook secrets at rest. May import governance and store.
"""
