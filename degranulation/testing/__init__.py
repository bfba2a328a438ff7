"""Test helpers for degranulation and for packages built on it: random reaction networks.

:mod:`degranulation.testing.strategies` needs Hypothesis (``pip install 'degranulation[test]'``);
importing this package alone needs nothing beyond degranulation.
"""
