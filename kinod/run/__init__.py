"""The pipeline's rooms: each module holds one concern of turning clips into outputs.

* :mod:`kinod.run.scan`: the ``kinod scan`` driver (cards and their clips, in this process);
* (the planner, pass runner, model runner and finalize still live in ``kinod.pipeline``;
  they move here one by one).

Nothing in ``media``, ``export``, ``jobs`` or ``watch`` imports this package.
"""
