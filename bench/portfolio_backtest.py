"""Benchmark the backtest (`pmo_sync.portfolio.backtest`): seconds and peak memory.

The portfolio is the request forecasts' benchmark's (`bench/portfolio_forecast.py`: seeded,
`--items` items in all under `--requests` requests over 20 teams, about 60% of the stories done
over the last year). The backtest replays the request forecasts on `--weeks` weekly days back
from its last day (`Every(7, weeks)`) with `--trials` trials each and judges them; the script
prints the seconds, the peak RSS over the baseline and the report's lines.

Run it from the repository root:

    python bench/portfolio_backtest.py                            # 100,000 items, 2,000 requests
    python bench/portfolio_backtest.py --items 10000 --requests 200 --weeks 4
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from portfolio_forecast import TODAY, _maxrss_mb, portfolio

from pmo_sync.portfolio.backtest import (
    BACKTEST_TRIALS,
    Every,
    backtest,
    calibration_lines,
    error_line,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--weeks", type=int, default=26)
    parser.add_argument("--trials", type=int, default=BACKTEST_TRIALS)
    args = parser.parse_args()
    items = portfolio(args.items, args.requests)
    gc.collect()
    baseline = _maxrss_mb()
    started = time.perf_counter()
    report = backtest(
        items,
        TODAY,
        Every(7, args.weeks),
        levels=("initiative", "epic"),
        trials=args.trials,
    )
    seconds = time.perf_counter() - started
    peak = _maxrss_mb()
    per_day = seconds / max(1, len(report.days))
    print(
        f"items {len(items):,}, requests {args.requests:,}, {len(report.days)} days, "
        f"{args.trials:,} trials: {seconds:.1f} s ({per_day:.2f} s a day)"
    )
    print(f"peak RSS {peak:,.0f} MB: {peak - baseline:,.0f} MB over the {baseline:,.0f} MB before")
    print(f"forecasts {len(report.forecasts):,}, without dates {sum(report.without.values()):,}")
    for line in (*calibration_lines(report), error_line(report)):
        print(line)


if __name__ == "__main__":
    main()
