"""`python -m eval.scale ...`: the study, or one of its jobs (`--worker JOB PARAMS RESULT`)."""

from eval.scale.cli import main

main()
