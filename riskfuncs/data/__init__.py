"""Reference data shipped as Python values: score weights, grade bands, LGD priors.

riskfuncs never reads files, so data the formulas need lives here as frozen values, each with
the public source it comes from. Pass your own values to the functions to override them.
"""
