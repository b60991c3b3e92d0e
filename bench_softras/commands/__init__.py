"""The commands of ``softras-bench``, one module per command, each with
``main(argv) -> int`` (exit status) and its argparse options; :mod:`bench_softras.cli`
dispatches to them (``cli.COMMANDS``).

This is the top floor of the package (docs/architecture.md, "Floors"): command modules
parse options, resolve the preset (:mod:`.options`: ``--preset`` and ``--set`` for
every command), find or build the data set, and call the ``run_*`` functions of
:mod:`bench_softras.experiments` and :mod:`bench_softras.studies` with resolved
settings objects.  No library module below this floor parses a command line.
"""
