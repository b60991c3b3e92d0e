"""A task queue that spreads a Taichi CPU loop over every thread, balanced as it runs.

Why: Taichi 1.7's CPU backend rewrites every top-level range-for of ``N`` iterations
(its ``make_cpu_multithreaded_range_for`` pass) into ``cpu_max_num_threads``
contiguous chunks of ``max(ceil(N / threads), 512)`` iterations, one chunk per thread
task.  So a loop of at most 512 iterations runs on one thread (the ``softras`` CPU
forward's 512 band tasks at the paper setting did: the second thread bought it
nothing), and a longer one is split statically: a thread that loses its core holds the
whole call while the other waits at the barrier.

How: the kernel loops over :func:`slots` = ``threads x`` :data:`CHUNK` iterations (one
chunk per thread), and only the first iteration of each chunk (``slot % CHUNK == 0``)
works: it takes task numbers from an atomic counter (:func:`take`) until none are left.
Every thread thus drains the same queue, a fast thread takes more tasks, and a
descheduled one leaves its share to the others.  Correct for any split Taichi makes
(a slot that finds the queue empty does nothing), so only the speed depends on the
rule above.  Each queue is one ``int32`` counter, set to 0 by the kernel before its
loop (:func:`reset`)::

    reset(queue, 0)
    for slot in range(n_slots):
        if slot % CHUNK == 0:
            task = take(queue, 0)
            while task < n_tasks:
                ...  # task number ``task``
                task = take(queue, 0)

Tasks run in no fixed order or thread, so a task must own what it writes (plain
stores, no shared sums) for the result to stay bit-reproducible.  Not for kernels
differentiated by Taichi's reverse mode (no ``while`` loops there).
"""


import taichi as ti
import torch

from . import taichi_runtime

#: Iterations per chunk of Taichi 1.7's CPU range-for split (the pass's
#: ``minimal_block_range``): a loop of ``threads x CHUNK`` iterations gives each thread
#: exactly one chunk.
CHUNK = 512


def slots() -> int:
    """Iterations of a queue loop: :data:`CHUNK` per Taichi CPU thread (the runtime's
    ``cpu_max_num_threads``; 1 before Taichi starts)."""
    return CHUNK * max(1, taichi_runtime.current_threads() or 1)


def counters(n: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """``n`` queue counters: an ``int32 [n]`` tensor (each kernel zeroes its own with
    :func:`reset` before use)."""
    return torch.empty(n, dtype=torch.int32, device=device)


@ti.func
def reset(queue: ti.template(), k: ti.template()):
    """Counter ``k`` of ``queue`` back to task 0 (a top-level statement, before the loop)."""
    queue[k] = 0


@ti.func
def take(queue: ti.template(), k: ti.template()) -> ti.i32:
    """The next task number of counter ``k`` (atomic; numbers past the last mean done)."""
    return ti.atomic_add(queue[k], 1)
