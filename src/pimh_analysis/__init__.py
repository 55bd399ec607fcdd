"""pimh-analysis: reproducible re-analysis of the Sp HV PIMH study (Homonchuk & Barlow, 2022).

The shipped survey data are a *replica*: respondent-level records rebuilt from the
report's published aggregates by :mod:`pimh_analysis.replica`.  They are not the
study's data, and associations between items in them are artefacts of the generator.
"""

__version__ = "0.1.0"

REPLICA_NOTICE = (
    "These data are a replica reconstructed from the report's published aggregates, "
    "not the study's confidential survey data. Associations between items are "
    "artefacts of the replica generator, not findings."
)
