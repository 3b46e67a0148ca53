"""Evaluating IFRNet on the paper's benchmarks, and measuring its speed.

``evaluation.benchmark_sets`` lists each benchmark's samples and names its protocol
(``evaluation.protocol``); ``evaluation.runner`` is the one loop that scores a model on them;
``evaluation.cli`` holds the flags and reporting shared by the ``benchmarks/`` scripts;
``evaluation.speed`` measures parameters, FLOPs, latency and memory.
"""
