"""Evaluating IFRNet on the paper's benchmarks, and measuring its speed.

``evaluation.benchmark_sets`` lists each benchmark's samples and names its protocol
(``evaluation.protocol``); ``evaluation.runner`` runs a model on them and ``evaluation.scoring``
is the one scoring loop (shared with training's evaluation and the baselines);
``evaluation.benchmark_command_line`` holds the flags and reporting shared by the
``benchmarks/`` scripts;
``evaluation.speed`` measures parameters, FLOPs, latency and memory.
"""
