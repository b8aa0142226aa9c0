"""The paper stage: results files -> LaTeX tables and macros -> compiled PDF.

- ``inputs``: reads every results file once into typed tables (the only module here that reads).
- ``tables``: the tables as data (columns, row groups, cells with best / significant flags).
- ``facts``: the named values the macros point at (variants from radgen.variants).
- ``macros``: the macros as data: name -> value source -> format, only those the paper sources use.
- ``methods``: what ran, read from the variant specs, for the Method section and the variant tables.
- ``context``: wires the above into the template context; the analysis choices come from the evaluation
  stage's headline.json (radgen.evaluate.headline), the wording from paper/templates/*.tex.j2.
- ``latex``: the LaTeX-safe Jinja environment, escape and number filters, the macro-name scheme.
- ``provenance``: git commit, config hash and package versions recorded in the paper.
- ``render``: renders the templates into ``paper/tables.tex``, ``variables.tex`` and ``methods.tex``.
- ``compile``: latexmk wrapper with actionable errors.
"""
