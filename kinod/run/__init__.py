"""Turning cards and clips into outputs: the same objects for ``kinod scan`` and the daemon.

* cards: :mod:`~kinod.run.card_lifecycle` (where cards begin, verify, plan, report),
  :mod:`~kinod.run.cards` (the daemon's card service), :mod:`~kinod.run.scan`,
  :mod:`~kinod.run.card_outputs`;
* clips, as plain objects that :class:`~kinod.run.processor.ClipProcessor` composes:
  :mod:`~kinod.run.analyzer_set`, :mod:`~kinod.run.planner` (over the store),
  :mod:`~kinod.run.task_facts` (a task's facts from the store, coordinator side),
  :mod:`~kinod.run.pass_runner` and :mod:`~kinod.run.model_runner` (no store: what any
  executor runs, through :mod:`~kinod.run.task_runner`), :mod:`~kinod.run.finalize`;
* checks that guard them: :mod:`~kinod.run.integrity`, :mod:`~kinod.run.space`,
  :mod:`~kinod.run.tempfiles`, :mod:`~kinod.run.renames`, :mod:`~kinod.run.card_errors`.
"""
