"""What the test modules share that is not a test: personas (fixtures, registered from tests/conftest.py),
referral bodies, and the local servers on the far side of Signpost (a webhook receiver, an OpenID Connect
issuer). Test modules import from here, never from each other."""
