"""ProbeResult: the client probe's figures, and the comparison with a quiet run."""

from __future__ import annotations

from lvslab.cluster import ProbeResult


def run(probes: int, failed: int) -> ProbeResult:
    return ProbeResult([(i * 0.02, None if i < failed else "web1") for i in range(probes)])


def test_failures_like_the_quiet_runs_are_noise():
    assert run(450, 0).more_failures_than(run(900, 0)) is None
    assert run(450, 2).more_failures_than(run(900, 3)) is None
    assert run(450, 3).more_failures_than(run(900, 0)) is None  # p = (1/3)^3 = 0.037


def test_failures_the_quiet_runs_cannot_explain_are_reported_with_their_p_value():
    p = run(450, 5).more_failures_than(run(900, 0))
    assert p is not None and abs(p - 3 ** -5) < 1e-12
    assert run(450, 12).more_failures_than(run(900, 4)) is not None


def test_the_shares_follow_the_number_of_probes_not_the_windows():
    # the same 4 and 4 failures: the run with far fewer probes had the higher rate
    assert run(100, 4).more_failures_than(run(1000, 4)) is not None
    assert run(1000, 4).more_failures_than(run(1000, 4)) is None


def test_the_command_exits_1_only_for_failures_the_quiet_run_cannot_explain(capsys):
    from lvslab.probe_stats import main

    assert main(["1", "450", "1", "2641"]) == 0
    assert "1 of 450 failed, 1 of 2641 with nothing happening: within" in capsys.readouterr().out
    assert main(["5", "450", "0", "900"]) == 1
    assert "more than nothing happening explains (p = 0.0041)" in capsys.readouterr().out
