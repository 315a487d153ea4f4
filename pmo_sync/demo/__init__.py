"""`pmo-sync demo`: the whole pipeline against the built-in sandbox trackers.

`run` starts the sandboxes, writes their connector files, syncs, measures and
writes back; `sections` prints what a newcomer reads, one screen or two a
section, each saying what its numbers mean, and ends with the next steps for
one's own tracker.
"""

from pmo_sync.demo.run import run_demo

__all__ = ["run_demo"]
