"""Runs DeepCAVE can open: a SMAC 2.x run history (configspace.json, runhistory.json, scenario.json) in the run
folder. SMAC optimizers write their own (``smac3/smac/SEED/``, ``Optimizer.writes_run_history``); for every
other black-box optimizer the run writes ``deepcave/RUN_FOLDER_NAME/`` when it ends or is interrupted
(``export``), and ``python -m nas_exp.deepcave RUN_DIR...`` writes it for existing run folders (``folder``).
``runhistory`` is the file format alone."""
