"""The round-robin HTTP load balancer of the replica tests: `scripts/balancer.py`, which
`make demo-ha` and the HA benchmark run too. Each request goes to the next broker replica in
turn, so a login's consecutive steps land on different processes."""

from scripts.balancer import Balancer

__all__ = ["Balancer"]
