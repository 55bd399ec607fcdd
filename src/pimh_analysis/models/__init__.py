"""Statistical models for the survey: barriers (ordinal) and supervision (Firth logistic).

Modules
-------
spec       params.yaml specifications: formulas, reference levels, collapsing rules (SpecError)
design     complete-case analysis frames and patsy designs (ModelDataError), warning capture
likert     answer scales, distributions, agreement rates with Wilson intervals, tick rates
ordinal    per-item proportional-odds models, PO (Brant) check, ordinal separation, collapsed sensitivity
gee        across-items ordinal GEE with respondent clusters (global odds ratio, bias-reduced sandwich)
firth      Firth logistic regression, plain GLM, exact tests, separation messages
power      smallest detectable odds ratios at the observed n
honesty    n / events-per-parameter / replica statements printed by the notebooks
figures    diverging stacked Likert bars and forest plots (with the data behind them)
barriers   the Q43 analysis end to end (notebook 05): parse_barrier_params, run_barriers, forest_rows
supervision the Q18-Q21e analysis end to end (notebook 06): parse_supervision_params, run_supervision,
           descriptive_tables, forest_rows
synthetic  synthetic respondent frames with planted effects (tests and demos only)

The survey is tiny (n about 34); every function reports n, events per
parameter and convergence so the notebooks can say what the design can and
cannot show.  On the shipped replica, associations are artefacts of the
generator, not findings.
"""
