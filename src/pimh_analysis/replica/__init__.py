"""The replica: respondent-level survey data rebuilt from the report's published aggregates.

It is **not** the study's data.  :mod:`.generate` assigns exact answer counts from
``resources/replica_assumptions.yaml`` to respondents (exact-count assignment, and
integer programming where constraints interact), so the published figures that can
hold together reproduce exactly; associations between items are artefacts.
"""

from .assign import ReplicaSpecError
from .generate import DEFAULT_SEED, ReplicaSpec, generate, write_canonical

__all__ = ["DEFAULT_SEED", "ReplicaSpec", "ReplicaSpecError", "generate", "write_canonical"]
