"""Statistics behind the verdict: quantile intervals, error-rate intervals, baseline tests.

Everything here is pure (no I/O, no clocks, no globals) and works on plain numbers, so
the verdict can be recomputed from stored results and every rule can be tested by
simulation. The rules follow DESIGN §3 and §8:

- Within a run, a quantile's uncertainty comes from order statistics (distribution-free).
- Across runs, the unit of replication is the *run*: one value per run per metric, on a
  log scale, because per-request samples are autocorrelated and latency noise is
  multiplicative.
- A change is reported only when it is both material (at least ``min_effect``) and
  significant; material-but-not-significant is "inconclusive", never a guess.

All comparisons treat *higher as worse* (latency, error rate): a ratio above one is a
possible regression. Pass reciprocals for metrics where higher is better (throughput).
"""

from loadgate.stats._common import Decision, Outcome, geometric_mean, pct
from loadgate.stats.baseline import (
    BaselineComparison,
    compare_groups,
    compare_relative,
    compare_single,
    compare_to_baseline,
    detectable_change,
    holm,
    holm_thresholds,
)
from loadgate.stats.intervals import (
    min_samples_for_interval,
    quantile_rank_interval,
    wilson_interval,
)
from loadgate.stats.paired import (
    PairedLook,
    look_levels,
    paired_detectable,
    paired_sequential_test,
)

__all__ = [
    "BaselineComparison",
    "Decision",
    "Outcome",
    "PairedLook",
    "compare_groups",
    "compare_relative",
    "compare_single",
    "compare_to_baseline",
    "detectable_change",
    "geometric_mean",
    "holm",
    "holm_thresholds",
    "look_levels",
    "min_samples_for_interval",
    "paired_detectable",
    "paired_sequential_test",
    "pct",
    "quantile_rank_interval",
    "wilson_interval",
]
