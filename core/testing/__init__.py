"""plugrad's backend conformance kit: a pytest plugin plus tests of every protocol kernel.

Run it against a backend with ``pytest --pyargs plugrad.testing --backend NAME``
(see README.md in this directory).
"""
