"""``python -m bench_softras <command>``: the same as the ``softras-bench`` command."""

from bench_softras.cli import main

raise SystemExit(main())
