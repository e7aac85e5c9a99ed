"""Built-in actions (one module each); importing this package registers them."""

from suanli.scheduler.core.actions import allocate, backfill, enqueue, preempt, reclaim
from suanli.scheduler.core.registry import register_action

register_action("enqueue", enqueue.Enqueue)
register_action("allocate", allocate.Allocate)
register_action("backfill", backfill.Backfill)
register_action("preempt", preempt.Preempt)
register_action("reclaim", reclaim.Reclaim)

__all__ = ["allocate", "backfill", "enqueue", "preempt", "reclaim"]
