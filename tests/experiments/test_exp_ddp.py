"""Data-parallel training: two CPU processes (gloo) launched by torchrun."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch


@pytest.mark.slow
def test_torchrun_two_gloo_processes_agree_on_parameters(tiny_data_dir, tmp_path):
    out = tmp_path / "ddp_run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "bench_softras.commands.train", "--preset", "smoke",
           "--renderer", "softras_torch", "--data-dir", str(tiny_data_dir),
           "--out-dir", str(out), "--iterations", "2", "--batch-size", "4",
           "--image-size", "16", "--no-progress"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    events = [json.loads(line.split(" ", 2)[2]) for line in (out / "train.log").read_text()
              .splitlines() if '"event"' in line]
    assert events and events[-1]["world_size"] == 2 and events[-1]["step"] == 2
    digests = events[-1]["rank_parameter_digests"]
    assert len(digests) == 2 and digests[0] == digests[1]
    ckpt = torch.load(out / "checkpoints" / "step_0000002.pt", weights_only=False)
    assert len(ckpt["numpy_rng"]) == 2  # each rank's sampler state, for resumption
    assert ckpt["numpy_rng"][0] != ckpt["numpy_rng"][1]  # ranks draw different objects
