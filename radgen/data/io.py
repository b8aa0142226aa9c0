"""Kept for callers outside radgen.data and radgen.evaluate (radgen.paper.render, radgen.evaluate.headline import
atomic_path from here): the one atomic writer lives in radgen.io, where new code imports it from."""

from radgen.io import atomic_path

__all__ = ["atomic_path"]
