"""RadGen: chest X-ray classification guided by a generated radiology report."""

__version__ = "0.1.0"
