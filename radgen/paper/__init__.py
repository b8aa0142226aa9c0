"""The paper stage: results files -> LaTeX tables and macros -> compiled PDF.

- ``latex``: the LaTeX-safe Jinja environment, escape and number filters, the macro-name scheme.
- ``context``: reads the results files and the config into the numbers, tables and macros the templates show.
- ``provenance``: git commit, config hash and package versions recorded in the paper.
- ``render``: renders ``paper/templates/*.tex.j2`` into ``paper/tables.tex`` and ``paper/variables.tex``.
- ``compile``: latexmk wrapper with actionable errors.
- ``sample``: a made-up results tree in the contract's layout, to check rendering and layout without training.
"""
