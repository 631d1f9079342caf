"""Long experiment runs show a tqdm.auto progress bar when asked (notebooks' FULL runs, the command-line mains)."""
from kafkalab.experiments import elections as el


def test_an_experiment_shows_a_progress_bar_when_asked_and_none_by_default(capsys):
    quiet = el.kraft_default_election(trials=2, seed=0)
    assert capsys.readouterr().err == ""
    shown = el.kraft_default_election(trials=2, seed=0, progress=True)
    err = capsys.readouterr().err
    assert "sweep:" in err and "/2 [" in err and "run/s" in err     # counts 2 runs (erased when done: leave=False)
    assert shown.equals(quiet)                       # a bar changes nothing in the result
