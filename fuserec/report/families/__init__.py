"""Ablation families: one module per family, imported when ``fuserec ablate <family>`` asks for it.

A module ``<family>.py`` here calls :func:`fuserec.report.ablation.register_ablation` at import
(see that module's docstring for an example). ``baselines`` is the built-in one.
"""
