"""Moves the wall clock of every Python process of a test run ahead by SIGNPOST_CLOCK_AHEAD_DAYS.

`.ci/run` puts this folder on PYTHONPATH for one run of the suite, so that the test process and every
`signpost` process a test starts (workers, servers) agree on a date a year or more from now: a test that
depends on today's date fails in CI, not in a month. time-machine moves time.time(), datetime.now() and
their kin but not the monotonic clock, so timeouts and sleeps keep their real length. (libfaketime cannot
do that here: faking CLOCK_REALTIME alone breaks time.sleep, faking both hangs every timed thread wait.)
"""

import os
from datetime import UTC, datetime, timedelta

import time_machine

_days = float(os.environ.get("SIGNPOST_CLOCK_AHEAD_DAYS", "0"))
if _days:
    time_machine.travel(datetime.now(UTC) + timedelta(days=_days), tick=True).start()
