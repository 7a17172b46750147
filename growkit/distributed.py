"""Data-parallel training on several processes, with PyTorch's own engine (torch.distributed,
launched by torchrun). One idea: N processes compute what one process computes.

    torchrun --nproc_per_node 4 -m growkit compare --preset gpu      # 4 GPUs, one machine

Every rank draws the same global batch from the same seeded generator and trains on its
share of the rows (`shard`); DistributedDataParallel averages the gradients, so each step
is the one-process step on the whole batch. Rank 0 alone writes files; decisions that hang
on something a rank might see differently (a file, a clock, a non-finite loss) are taken
once and shared (`broadcast`, `average`), so ranks never part ways and deadlock.

Without torchrun (no WORLD_SIZE in the environment) nothing here starts a process group,
and every helper is the identity: world_size() is 1, wrap(model) is the model.
"""

from __future__ import annotations

import atexit
import os
import pickle
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn

from .device import auto_device
from .settings import SettingError

T = TypeVar("T")


def init_from_env(timeout_minutes: float = 30.0) -> bool:
    """Join the process group torchrun describes (RANK, WORLD_SIZE, LOCAL_RANK,
    MASTER_ADDR/PORT in the environment): nccl on CUDA, each rank on cuda:LOCAL_RANK; gloo on
    a CPU. Returns whether a process group is up; without WORLD_SIZE it does nothing.
    The timeout bounds how long a rank waits for the others at a collective (rank 0 may
    sit in a file lock that another process holds while the others wait)."""
    if initialized():
        return True
    if "WORLD_SIZE" not in os.environ:
        return False
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank())
        backend = "nccl"
    else:
        backend = "gloo"
    dist.init_process_group(backend, timeout=timedelta(minutes=timeout_minutes))
    # Leave the group at exit, an error's included: a process that exits inside it can abort
    # ("terminate called without an active exception") instead of exiting with its error.
    atexit.register(shutdown)
    return True


def check_joined() -> None:
    """Refuse to train as N separate copies: under torchrun (WORLD_SIZE > 1) a process that
    has not joined the group would train the whole run alone and write the same files as
    every other process."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not initialized():
        raise RuntimeError(f"this process was started with WORLD_SIZE={os.environ['WORLD_SIZE']} "
                           "(torchrun) but has not joined the process group: call "
                           "growkit.distributed.init_from_env() at the start of the script "
                           "(python -m growkit does).")


def initialized() -> bool:
    """A process group is up (of any size)."""
    return dist.is_available() and dist.is_initialized()


def active() -> bool:
    """More than one process trains together."""
    return initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def is_main() -> bool:
    """Rank 0: the one process that writes records, checkpoints and summaries, and prints."""
    return rank() == 0


def device() -> torch.device:
    """This rank's device: cuda:LOCAL_RANK under torchrun with GPUs, else auto_device()."""
    chosen = auto_device()
    if chosen.type == "cuda" and active():
        return torch.device("cuda", local_rank())
    return chosen


def check_batch(batch_size: int) -> None:
    """The global batch must split into equal shares, one per rank: equal shares are what
    makes DDP's mean of the ranks' mean gradients the whole batch's mean gradient."""
    n = world_size()
    if batch_size % n:
        lower, higher = batch_size - batch_size % n, batch_size + n - batch_size % n
        raise SettingError(f"batch_size={batch_size} does not divide among {n} processes: use a "
                           f"multiple of {n} (e.g. batch_size={higher} or {max(n, lower)}), or "
                           f"a number of processes that divides {batch_size}.")


def shard(*tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """This rank's rows of a global batch: rows [rank*B/N, (rank+1)*B/N)."""
    n, r = world_size(), rank()
    if n == 1:
        return tensors
    share = tensors[0].shape[0] // n
    return tuple(t[r * share:(r + 1) * share] for t in tensors)


def wrap(model: nn.Module, *, compile: bool = False, **ddp_options: Any) -> nn.Module:
    """What trains: DistributedDataParallel(model) when several processes train (DDP
    broadcasts rank 0's weights and buffers at construction, so every rank starts equal),
    then torch.compile on top when `compile`; else the model itself. `unwrap` undoes both."""
    engine = model
    if active():
        from torch.nn.parallel import DistributedDataParallel

        param = next(model.parameters(), None)
        on_cuda = param is not None and param.device.type == "cuda"
        ids = [param.device] if on_cuda else None  # type: ignore[union-attr]
        engine = DistributedDataParallel(model, device_ids=ids, **ddp_options)
    return compiled(engine) if compile else engine


def unwrap(model: nn.Module) -> nn.Module:
    """The plain model inside torch.compile and DDP wrappers."""
    model = getattr(model, "_orig_mod", model)
    model = getattr(model, "module", model)
    return getattr(model, "_orig_mod", model)


def compiled(module: nn.Module) -> nn.Module:
    """torch.compile with static shapes (each model shape its own kernels, never a dynamic
    graph after a shape change) and room for the many shapes one study trains."""
    import torch._dynamo

    config = torch._dynamo.config
    # `recompile_limit` since torch 2.6, `cache_size_limit` before (e.g. an older Colab torch)
    name = "recompile_limit" if hasattr(config, "recompile_limit") else "cache_size_limit"
    setattr(config, name, max(getattr(config, name), 64))
    return torch.compile(module, dynamic=False)


def _comm_device() -> torch.device:
    """Where collective tensors live: nccl only moves CUDA tensors."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def average(t: torch.Tensor) -> torch.Tensor:
    """The elementwise mean over ranks of `t` (float64; one process: `t` itself). Each rank's
    per-step loss is a mean over its equal share of the batch, so this is the whole batch's
    loss; and a loss that is not finite on any rank makes the mean not finite on all (NaN and
    inf survive a sum), so the same tensor also carries the divergence decision."""
    if not active():
        return t
    out = t.detach().to(_comm_device(), torch.float64)  # a copy: `t` is left alone
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out / world_size()


def broadcast(obj: T) -> T:
    """Rank 0's `obj` on every rank, pickled: a decision, a record, a resumable checkpoint's
    payload (weights and optimizer state: held in memory twice while it travels). Every
    rank must call it; what ranks other than 0 pass is ignored."""
    if not active():
        return obj
    box = [obj if is_main() else None]
    dist.broadcast_object_list(box, src=0, device=_comm_device())
    return box[0]  # type: ignore[return-value]


def on_main(read: Callable[[], T]) -> T:
    """`read()` on rank 0 only, its result (or its exception) on every rank. Rank 0 alone
    touches the run folder, so the folder need not be on a file system every machine sees,
    and a file another process changes between two ranks' looks cannot part them; and an
    error there (a truncated file) stops every rank instead of leaving them waiting."""
    if not active():
        return read()
    outcome: tuple[bool, Any] = (True, None)
    error: Exception | None = None
    if is_main():
        try:
            outcome = (True, read())
        except Exception as e:  # raised on every rank below
            error = e
            try:  # sent as itself if it survives pickling (some exception classes do not)
                outcome = (False, pickle.loads(pickle.dumps(e)))
            except Exception:
                outcome = (False, RuntimeError(f"on rank 0: {type(e).__name__}: {e}"))
    ok, value = broadcast(outcome)
    if not ok:
        # Every rank has the error before any raises it: a rank 0 that exited at once could
        # cut the others' connection before the message reached them.
        barrier()
        raise error if error is not None else value
    return value


def barrier() -> None:
    """Wait until every rank is here (e.g. so that the others see what rank 0 just wrote)."""
    if active():
        if dist.get_backend() == "nccl":
            dist.barrier(device_ids=[torch.cuda.current_device()])
        else:
            dist.barrier()


def shutdown(finished: bool = True) -> None:
    """Leave the process group (end of a torchrun command). `finished=False` after an error
    that may have stopped this rank alone: leave without waiting for the others."""
    if initialized():
        if finished:
            # Every rank's last collective done first (the barrier waits without the GIL):
            # otherwise a gloo worker thread could still be freeing its tensors, needing the
            # GIL, while this process's exit frees the group and joins that thread holding
            # it, a deadlock that hung about one stopped torchrun worker in ten at exit.
            barrier()
        dist.destroy_process_group()
