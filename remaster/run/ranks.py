"""One film spread over several processes: `torchrun --nproc-per-node N -m remaster FILM ...`.

torchrun starts N copies of the command (on one machine or several, `--nnodes`) and tells each
its place in the environment (RANK, WORLD_SIZE, LOCAL_RANK). Each rank takes a contiguous run
of the film's segments, decodes only those frames and the warm-up frames before them
(remaster/color/stage.py), colours them and encodes its segments into the shared work folder,
with a journal file of its own. Rank 0 waits for all, then joins the segments and muxes the
sound, as one process does. Because every segment depends only on itself and its warm-up, the
output equals a single process's frame for frame, and `--resume` works the same way.

The processes only wait for each other (gloo: no GPU needed for that) and share nothing else;
a work folder every node can reach is all a multi-node run needs. On GPUs each rank colours on
its own (LOCAL_RANK).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

# Ranks wait for the slowest at the end: a whole reel's share can take hours on a CPU.
WAIT = timedelta(hours=48)


@dataclass(frozen=True)
class Ranks:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @classmethod
    def from_environment(cls) -> Ranks:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        return cls(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))

    @property
    def spread(self) -> bool:
        return self.world > 1

    @property
    def leads(self) -> bool:
        return self.rank == 0

    def device(self, asked: str) -> str:
        """Each rank on its own GPU where the run may use GPUs."""
        import torch

        if self.spread and asked in ("auto", "cuda") and torch.cuda.is_available():
            return f"cuda:{self.local_rank % torch.cuda.device_count()}"
        return asked

    def segments(self, count: int) -> range:
        """This rank's share of `count` segments: a contiguous run, the sizes differing by at
        most one (contiguous, so each rank seeks once and warms up once)."""
        return range(self.rank * count // self.world, (self.rank + 1) * count // self.world)

    def join(self) -> None:
        """Join the other ranks (torchrun's rendezvous address is in the environment)."""
        import torch.distributed as dist

        if self.spread and not dist.is_initialized():
            dist.init_process_group("gloo", timeout=WAIT)

    def wait_for_all(self) -> None:
        import torch.distributed as dist

        if self.spread:
            dist.barrier()

    def total(self, count: int) -> int:
        """The sum of every rank's `count`, once all have come this far (for `remaster
        batch`, whose processes colour whole films and meet only at the end)."""
        if not self.spread:
            return count
        import torch
        import torch.distributed as dist

        self.join()
        try:
            summed = torch.tensor([count])
            dist.all_reduce(summed)
            return int(summed)
        finally:
            self.leave()

    def leave(self) -> None:
        import torch.distributed as dist

        if self.spread and dist.is_initialized():
            dist.destroy_process_group()
