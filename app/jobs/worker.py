"""The RQ worker of `flask worker`: every log line about a job carries its job id and the request id that
enqueued it (app.jobs.queue.enqueue puts it in the job's meta), in the worker and in the work horse it forks."""

from rq import Queue, Worker

from app.production import set_log_context


class JobQueue(Queue):
    """Binds the log context as soon as a job is taken, so even the worker's "dequeued" line carries it."""

    @classmethod
    def dequeue_any(cls, *args, **kwargs):
        result = super().dequeue_any(*args, **kwargs)
        if result is not None:
            job, _queue = result
            set_log_context(job_id=job.id, request_id=(job.meta or {}).get("request_id"))
        return result


class JobWorker(Worker):
    """RQ's forking worker whose log context lives from the dequeue to the end of the job (the horse inherits it
    at the fork), and is cleared before the worker waits for the next one."""

    queue_class = JobQueue

    def execute_job(self, job, queue) -> None:
        try:
            super().execute_job(job, queue)
        finally:
            set_log_context()

    def unsubscribe(self) -> None:
        """RQ's own stops its command-listener thread after unsubscribing. When that thread reads the reply first, it
        loops into redis-py's wait for a subscription, 60 s long, and redis-py ≥ 8.2's stop() joins it without a
        timeout: the worker then takes a minute to stop (a burst worker to exit, a deploy's SIGTERM to finish).
        Stopping the loop first and unsubscribing after lets the reply wake the thread for its last round."""
        if self.pubsub_thread:
            self.log.info("Worker %s: unsubscribing from channel %s", self.name, self.pubsub_channel_name)
            self.pubsub_thread.stop(timeout=0)  # the loop's flag only: the thread is still in its read
            self.pubsub.unsubscribe()
            self.pubsub_thread.join(timeout=5)
            self.pubsub.close()
