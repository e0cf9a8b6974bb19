"""The trace the handbook's program prints (with its shutdown fixed): one list for every test.

The handbook's program: 6 items, queue of 2, 3 workers, semaphore of 2, 0.15 s each."""

HANDBOOK_TRACE = [
    "0.000 produce 0 qsize before: 0",
    "0.000 enqueued 0 qsize after: 1",
    "0.000 produce 1 qsize before: 1",
    "0.000 enqueued 1 qsize after: 2",
    "0.000 produce 2 qsize before: 2",  # the queue is full: the producer waits
    "0.000 enqueued 2 qsize after: 1",  # workers 0 and 1 took items; the put went through
    "0.000 produce 3 qsize before: 1",
    "0.000 enqueued 3 qsize after: 2",
    "0.000 produce 4 qsize before: 2",
    "0.000 enqueued 4 qsize after: 2",
    "0.000 produce 5 qsize before: 2",  # worker 2 holds item 2 at the semaphore; the queue is full
    "0.150 worker-0 handled 0",
    "0.150 worker-1 handled 1",
    "0.150 enqueued 5 qsize after: 1",
    "0.300 worker-2 handled 2",
    "0.300 worker-0 handled 3",
    "0.450 worker-1 handled 4",
    "0.450 worker-2 handled 5",
    "0.450 worker-0 shutdown",
    "0.450 worker-1 shutdown",
    "0.450 worker-2 shutdown",
]
