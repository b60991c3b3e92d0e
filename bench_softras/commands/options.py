"""What the commands share: ``--preset`` and ``--set`` (one definition for every
command, :func:`add_preset_options`), the preset they resolve to
(:func:`preset_from_args`: :func:`bench_softras.settings.apply_settings`, the parser of
the main job's ``--set``), comma-separated lists, where a command's data set lies
(:func:`resolve_data_dir`: the harness, not the experiments, finds or builds it), and
the argparse ``type=`` functions of the options several commands share
(:func:`device_arg`, :func:`int_list_arg`, :func:`add_shard_argument`, and the path
options' :func:`path_arg`, :func:`path_type`, :func:`run_id_arg`).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from bench_softras import data as datasets
from bench_softras.errors import UserError, check_device
from bench_softras.experiments.renderer_choice import make_renderer
from bench_softras.safe_paths import UnsafePathError, check_run_id, user_path
from bench_softras.settings import (
    OFFICIAL_DEMO_SIGMA,
    PRESETS,
    SECTIONS,
    Preset,
    apply_settings,
    get_preset,
)
from bench_softras.shards import Shard, parse_shard

T = TypeVar("T")


def csv(text: str | None) -> tuple[str, ...]:
    """``"a, b,,c"`` -> ``("a", "b", "c")``; ``None`` or empty -> ``()``."""
    return tuple(t.strip() for t in text.split(",") if t.strip()) if text else ()


def _option_type(check: Callable[[str], T], errors: type[Exception] | tuple = UserError,
                 text: str = "") -> T:
    """``check(text)``, its ``errors`` turned into argparse's one-line
    ``ArgumentTypeError`` (argparse names the option)."""
    try:
        return check(text)
    except errors as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def preset_arg(text: str) -> str:
    """argparse ``type=`` for ``--preset``: a known preset name (else the one line of
    :func:`~bench_softras.settings.get_preset` naming the known ones)."""
    return _option_type(lambda t: get_preset(t).name, UserError, text)


def add_preset_options(p: argparse.ArgumentParser, default: str = "cpu",
                       set_note: str = "") -> None:
    """``--preset NAME`` (default ``default``) and ``--set SECTION.FIELD=VALUE``
    (repeatable, ``args.settings``), the same for every command; ``set_note`` ends the
    help of ``--set``."""
    p.add_argument("--preset", default=default, type=preset_arg,
                   help=f"experiment sizes, one of {', '.join(PRESETS)} (default {default}; "
                        "smoke: CI-sized; cpu: two CPU cores; gpu: one GPU, minutes; paper: "
                        "GPU, the paper's schedule)")
    p.add_argument("--set", dest="settings", action="append", default=[],
                   metavar="SECTION.FIELD=VALUE",
                   help="override one field of the preset (repeatable), e.g. --set "
                        f"recon.sigma={OFFICIAL_DEMO_SIGMA:g} --set fit.steps=50 --set "
                        "timing.repeats=3; "
                        f"sections: {', '.join(SECTIONS)} (bench_softras.settings); values "
                        "are typed from the field (tuples comma-separated, booleans "
                        "true/false)" + (f"; {set_note}" if set_note else ""))


def preset_from_args(args: argparse.Namespace,
                     reserved: Mapping[str, str] | None = None) -> Preset:
    """The preset ``args.preset`` with every ``--set`` of ``args.settings`` applied
    (:func:`~bench_softras.settings.apply_settings`; ``reserved``: fields an option of
    the command owns, refused naming it).  A bad name or value raises
    :class:`~bench_softras.errors.ConfigError` (one line, exit status 2)."""
    return apply_settings(get_preset(args.preset), args.settings, reserved=reserved)


def resolve_data_dir(data_dir: str | Path | None, preset: Preset,
                     progress: bool = True) -> Path:
    """``data_dir`` when given; otherwise the built-in synthetic data set of the
    preset's size (``preset.synthetic_data``), built once with the exact ``hard``
    renderer at 64x64 and cached (:func:`bench_softras.data.build_synthetic`; the main
    job builds the same, :func:`bench_softras.main_job.resolve_data`)."""
    if data_dir:
        return Path(data_dir)
    return datasets.build_synthetic(None, preset.synthetic_data, make_renderer("hard", 64),
                                    progress=progress)


def distributed_data_dir(data_dir: str | Path | None, preset: Preset, progress: bool,
                         device: str) -> Path:
    """:func:`resolve_data_dir` under ``torchrun``: rank 0 finds or builds the data set
    while the other ranks wait, then every rank has its path."""
    import torch.distributed as dist

    from bench_softras.experiments.train import setup_distributed

    d = setup_distributed(device)
    if d.active and not d.is_main:
        dist.barrier()  # rank 0 builds (or finds) the data first
    path = resolve_data_dir(data_dir, preset, progress and d.is_main)
    if d.active and d.is_main:
        dist.barrier()
    return path


def path_arg(text: str) -> str:
    """argparse ``type=`` of every path option:
    :func:`~bench_softras.safe_paths.user_path` (``~`` is the home directory)."""
    return user_path(text)


def path_type(text: str) -> Path:
    """argparse ``type=`` of a path option read as a :class:`~pathlib.Path`."""
    return Path(user_path(text))


def run_id_arg(text: str) -> str:
    """argparse ``type=`` for ``--run-id``
    (:func:`~bench_softras.safe_paths.check_run_id`; ``""``: the default)."""
    return _option_type(check_run_id, UnsafePathError, text) if text else text


def device_arg(text: str) -> str:
    """argparse ``type=`` for ``--device`` (:func:`check_device`)."""
    return _option_type(check_device, UserError, text)


def int_list_arg(text: str) -> str:
    """argparse ``type=`` for comma-separated integers (e.g. ``--seeds 0,1,2``); returns
    ``text`` unchanged once every item is an integer."""
    items = [t.strip() for t in text.split(",") if t.strip()]
    bad = [t for t in items if not re.fullmatch(r"[+-]?\d+", t)]
    if bad or not items:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers such as 0,1,2, got {text!r}")
    return text


def shard_arg(text: str) -> Shard:
    """argparse ``type=`` for ``--shard`` (:func:`parse_shard`)."""
    return _option_type(parse_shard, ValueError, text)


def add_shard_argument(p: argparse.ArgumentParser) -> None:
    """``--shard i/n`` on a command's parser (default: unsharded)."""
    p.add_argument("--shard", type=shard_arg, default=None, metavar="I/N",
                   help="run only the I-th of N slices (1-based) of the sweep's "
                        "independent runs, into a shared results root "
                        "(bench_softras.shards); merge by running again without --shard "
                        "(or softras-bench report --from-results DIR)")
