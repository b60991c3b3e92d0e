"""The task queue of :mod:`renderers.taichi_queue`: every task runs exactly once,
whatever the number of tasks against the slots, and the counter is reset per launch."""

import pytest
import taichi as ti
import torch

from renderers import taichi_queue
from renderers.taichi_runtime import current_threads, ensure_init


@ti.kernel
def _count_tasks(queue: ti.types.ndarray(), n_slots: ti.i32, n_tasks: ti.i32,
                 hits: ti.types.ndarray()):
    taichi_queue.reset(queue, 0)
    for slot in range(n_slots):
        if slot % taichi_queue.CHUNK == 0:
            task = taichi_queue.take(queue, 0)
            while task < n_tasks:
                hits[task] += 1  # each task owns its entry
                task = taichi_queue.take(queue, 0)


def test_slots_give_each_thread_one_chunk():
    ensure_init("cpu")
    assert taichi_queue.slots() == taichi_queue.CHUNK * current_threads()


@pytest.mark.parametrize("n_tasks", [0, 1, 7, 512, 513, 5000])
def test_every_task_runs_once(n_tasks):
    ensure_init("cpu")
    queue = taichi_queue.counters(1)
    queue.fill_(12345)  # stale value: the kernel must reset it
    for _ in range(2):  # the same counters again: reset per launch
        hits = torch.zeros(max(n_tasks, 1), dtype=torch.int32)
        _count_tasks(queue, taichi_queue.slots(), n_tasks, hits)
        assert torch.equal(hits[:n_tasks], torch.ones(n_tasks, dtype=torch.int32))
