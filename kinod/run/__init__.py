"""Turning clips into outputs, one plain object per concern (``kinod.pipeline`` composes them).

* :mod:`kinod.run.analyzer_set`: the enabled analyzers, their job specs and cache frames;
* :mod:`kinod.run.planner`: a clip -> its jobs and pass in the store;
* :mod:`kinod.run.task_facts`: the coordinator fills a task with what its runner reads;
* :mod:`kinod.run.pass_runner`, :mod:`kinod.run.model_runner`, :mod:`kinod.run.task_runner`:
  run a task from its fields alone (no store), wherever it runs;
* :mod:`kinod.run.finalize`: stored results -> sidecar and derived files;
* :mod:`kinod.run.scan`: the ``kinod scan`` driver (cards and their clips, in this process).

Nothing in ``media``, ``export``, ``jobs`` or ``watch`` imports this package.
"""
