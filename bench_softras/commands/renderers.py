"""``softras-bench renderers``: the registered renderers (and the absent optional
ones)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def renderers_main(argv: Sequence[str] | None = None) -> int:
    """``softras-bench renderers [--describe]``: registered renderers, one name a line
    (with ``--describe``: family, sharpness parameter, options, forward model, gradient
    rule, paper), then the absent optional ones."""
    p = argparse.ArgumentParser(prog="softras-bench renderers",
                                description=renderers_main.__doc__)
    p.add_argument("--describe", action="store_true",
                   help="print each renderer's self-description")
    args = p.parse_args(argv)
    import renderers  # here, not at the top: Taichi loads after quiet_taichi()

    for name in renderers.available():
        print(name)
        if args.describe:
            info = renderers.describe(name)
            opts = ", ".join(f"{o.name}={o.default!r} {o.valid_range()}"
                             for o in info.options or ())
            for key, value in (("family", info.family), ("sharpness", info.sharpness),
                               ("options", opts), ("forward", info.forward_model),
                               ("gradient", info.gradient_rule), ("paper", info.paper),
                               ("cost", info.cost)):
                print(f"    {key}: {value}")
    for name, note in renderers.absent_peers().items():
        print(f"{name} (absent: {note})")
    return 0


main = renderers_main
