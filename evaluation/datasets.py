"""Former name of :mod:`evaluation.benchmark_sets`, kept until evaluation/cli.py imports the new one."""
from evaluation.benchmark_sets import *  # noqa: F401,F403
from evaluation.benchmark_sets import __all__  # noqa: F401
