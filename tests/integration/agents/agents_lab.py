"""The agents' lab settings, shared by conftest.py and the tests that measure against them."""

KEEPALIVE = 0.5
DEADTIME = 2.0
DEFAULTS = {"router_keepalive": KEEPALIVE, "router_deadtime": DEADTIME}
