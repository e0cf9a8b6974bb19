"""The teaching: what the page says, each sentence a claim checked against a run.

``lessons`` (every preset's claims, checked headless), ``course`` (lessons as TOML files in
``courses/``: steps that are links, notices and questions), ``questions`` (what a teacher may ask
a class) and ``explain`` (theory beside the data: utilisation, Little's law, M/M/c). Imports
``model`` and ``sim``.
"""
