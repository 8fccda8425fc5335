"""Optional integrations with other tools (each imports its tool lazily): :mod:`convsolve.integrations.optuna`,
:mod:`convsolve.integrations.configspace` and :mod:`convsolve.integrations.ray_tune`."""
