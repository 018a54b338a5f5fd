"""Compare runs: a candidate against a baseline, a run against a golden curve, a sweep of runs.

The flow mirrors the single-run one: runs are read and analysed as usual, then
``align`` puts two runs' curves on one x grid (smoothed, in the space the rules judge in, with the
baseline's noise band), ``metrics`` turns a pair into a :class:`~lossdoc.compare.metrics.RunComparison`
(deltas, time to a target, where the curves part, findings in one run only), ``gate`` decides the
exit code, and ``render`` writes every ``--format``. Nothing here reads files; nothing in ``render``
computes a comparison.
"""
