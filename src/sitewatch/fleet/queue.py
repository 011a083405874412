"""The fleet's queue: the Celery application on a Redis broker, and how a job id is put on it.

Shared by the scheduler (which only sends) and the workers (which also run the task: ``make_app(..., task=)``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

TASK = "sitewatch.job"
QUEUE = "sitewatch"
DEFAULT_VISIBILITY = 3600        # seconds before the broker gives a lost worker's unacknowledged messages out again


def make_app(broker: str, visibility_timeout: float = DEFAULT_VISIBILITY,
             task: Callable[[int], str] | None = None) -> Any:
    """The Celery application of sitewatch's fleet on ``broker`` (a Redis URL); ``task`` runs a job id (workers).

    ``acks_late`` with ``reject_on_worker_lost``: a message is acknowledged when its job has ended, so a worker
    that dies first gives it back (at once when a pool thread dies, after ``visibility_timeout`` when the process
    or its machine is lost); one message at a time per thread (``prefetch_multiplier=1``); JSON only."""
    from celery import Celery

    app = Celery("sitewatch", broker=broker, set_as_current=False)
    app.conf.update(
        task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
        task_ignore_result=True, task_default_queue=QUEUE, task_serializer="json", accept_content=["json"],
        broker_transport_options={"visibility_timeout": int(visibility_timeout)},
        broker_connection_retry_on_startup=True, worker_hijack_root_logger=False,
        worker_cancel_long_running_tasks_on_connection_loss=False)
    if task is not None:
        app.task(name=TASK, ignore_result=True)(task)
    return app


def send(app: Any, run_id: int) -> None:
    """Put job ``run_id`` (a ``queued`` row) on the queue."""
    app.send_task(TASK, args=[run_id], queue=QUEUE)
