"""Micro-benchmark suites judged by loadgate's verdict (``loadgate micro``).

Each benchmarked call does a batch of work long enough (tens of µs or more) that its round
time is resolved well by a microsecond histogram; names say the batch size.
"""
