"""The vocabulary: what a scenario is and how a link says it.

``scenario`` (the validated parameters, their ranges and the link syntax), ``presets`` (named
scenarios from the handbook and its practical connections), ``compare`` (two services on one
load, and their links) and ``theory`` (M/M/c and M/M/c/K formulas). Pure data and arithmetic:
imports nothing else of the playground.
"""
