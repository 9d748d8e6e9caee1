"""The Dramatiq broker as kinod uses it: named queues, no retries, no time limit.

Dramatiq's default middleware would retry failed messages and kill actors after ten
minutes; kinod's job store already owns retries (max attempts, OOM -> smaller batch
-> CPU) and media jobs run for hours, so the broker gets no middleware at all. What
is left of Dramatiq is what kinod wants from it: durable queues, acks after the job,
per-queue routing and the Redis broker's worker heartbeats, after which a dead
worker's unacked messages are redelivered.
"""

from __future__ import annotations

from typing import Any

import dramatiq
from dramatiq.message import Message

#: Work queues; a task goes to exactly one.
QUEUES = ("pass", "cpu", "gpu", "proxy")
#: Completion messages (worker -> coordinator).
RESULTS_QUEUE = "results"
TASK_ACTOR = "kinod_task"
RESULT_ACTOR = "kinod_result"


def make_broker(url: str, namespace: str, heartbeat_timeout_s: float) -> dramatiq.Broker:
    """A broker for ``url`` (redis:// or amqp://), with every kinod queue declared."""
    if url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        broker: dramatiq.Broker = RabbitmqBroker(url=url, middleware=[])
    else:
        import redis
        from dramatiq.brokers.redis import RedisBroker

        client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30, health_check_interval=10)
        broker = RedisBroker(
            client=client,
            namespace=f"{namespace}-dramatiq",
            middleware=[],
            heartbeat_timeout=int(heartbeat_timeout_s * 1000),
            # maintenance (requeueing dead workers' messages) on ~1% of broker commands:
            # workers are few and mostly idle-polling, so the default 0.1% would take minutes
            maintenance_chance=10000,
        )
    for q in (*QUEUES, RESULTS_QUEUE):
        broker.declare_queue(q)
    return broker


def message(queue: str, actor: str, *args: Any) -> Message[Any]:
    return Message(queue_name=queue, actor_name=actor, args=args, kwargs={}, options={})


def epoch_key(namespace: str) -> str:
    return f"{namespace}:epoch"


def redis_client(broker: dramatiq.Broker) -> Any | None:
    """The Redis client of a Redis broker (for the epoch marker), None for RabbitMQ."""
    return getattr(broker, "client", None)


def safe_url(url: str) -> str:
    """The broker URL without its password, for logs and ``kinod doctor``."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url


def ping(url: str, timeout_s: float = 3.0) -> tuple[bool, str]:
    """Can the broker be reached? (``kinod doctor`` with ``jobs.executor = "dramatiq"``)."""
    try:
        if url.startswith(("amqp://", "amqps://")):
            import pika

            params = pika.URLParameters(url)
            params.socket_timeout = timeout_s
            pika.BlockingConnection(params).close()
        else:
            import redis

            redis.Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s).ping()
    except Exception as e:
        return False, f"{safe_url(url)}: {e}"
    return True, f"{safe_url(url)} answers"
