"""End-to-end benchmark of the sync against the built-in sandbox: ``store-sync bench``.

* :mod:`benchmarks.model`: the fewest API calls a load needs and the time floor they imply;
* :mod:`benchmarks.pipeline`: the measured run (backfill, idle incremental, per-record path),
  in a child process of its own so that its peak memory and CPU are the pipeline's alone;
* :mod:`benchmarks.run`: the sandbox, the data, the child, and the report
  (``reports/bench-<N>.json`` and ``.md``, and a table on the terminal).
"""
