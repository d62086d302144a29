"""Entry points of the benchmark's helper processes (``python -m bench.children.NAME``).

Each prints ``progress N`` lines on stdout and writes its result as JSON to ``--result``.
"""
