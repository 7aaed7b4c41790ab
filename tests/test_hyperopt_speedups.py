"""Hyperopt's per-search overheads cut: the same suggestions as Hyperopt's own."""
import math
from functools import partial

import numpy as np
import pytest
from hyperopt import STATUS_OK, Trials, hp, pyll, tpe
from hyperopt.fmin import FMinIter

from forecasting import hyperopt_speedups

FLAT = {
    "scale": hp.loguniform("scale", math.log(0.001), math.log(0.5)),
    "share": hp.uniform("share", 0.8, 0.95),
    "points": hp.quniform("points", 5, 40, 5),
    "order": hp.choice("order", [4, 8, 12]),
}
# without a choice: even the space's own graph has no switch, and is replayed too
NO_CHOICE = {name: FLAT[name] for name in ("scale", "share", "points")}
# a conditional space: its own graph has switches, which are left to Hyperopt's own evaluation
NESTED = {
    "mode": hp.choice("mode", [
        {"kind": "additive", "prior": hp.loguniform("prior_a", -3, 1)},
        {"kind": "multiplicative", "prior": hp.uniform("prior_m", 0.1, 2.0)},
    ]),
    "share": hp.uniform("share", 0.8, 0.95),
}


def loss(params) -> float:
    mode = params.get("mode", {"prior": 1.0})
    return (params["share"] - 0.9) ** 2 + params.get("points", 0) / 400 + abs(math.log(mode["prior"])) / 10


def search(space, seed: int, key: str | None = None, evals: int = 10) -> list[dict]:
    """Every trial's values, in order, from a seeded TPE search (3 random points first)."""
    objective = lambda params: {"status": STATUS_OK, "loss": loss(params)}  # noqa: E731
    domain = hyperopt_speedups.search_domain(key, lambda: space, objective) if key else None
    trials = Trials()
    if domain is None:
        from hyperopt import fmin

        fmin(objective, space, algo=partial(tpe.suggest, n_startup_jobs=3), max_evals=evals, trials=trials,
             rstate=np.random.default_rng(seed), show_progressbar=False, return_argmin=False)
    else:
        FMinIter(partial(tpe.suggest, n_startup_jobs=3), domain, trials, rstate=np.random.default_rng(seed),
                 max_evals=evals, show_progressbar=False).exhaust()
    return [trial["misc"]["vals"] for trial in trials.trials]


@pytest.fixture
def hyperopt_as_it_comes(monkeypatch):
    """Undoes the speedups for the test, and puts them back after it."""
    hyperopt_speedups.reuse_tpe_posterior_graph()
    hyperopt_speedups.replay_graph_evaluation()
    monkeypatch.setattr(tpe, "build_posterior_wrapper", tpe.build_posterior_wrapper.__wrapped__)
    monkeypatch.setattr(pyll, "rec_eval", pyll.rec_eval.__wrapped__)
    monkeypatch.setattr(pyll.base, "rec_eval", pyll.rec_eval)
    return monkeypatch


@pytest.mark.parametrize("space", [FLAT, NO_CHOICE, NESTED], ids=["flat", "no choice", "nested"])
def test_the_speedups_suggest_what_hyperopt_suggests(space, hyperopt_as_it_comes):
    plain = [search(space, seed) for seed in range(8)]
    hyperopt_as_it_comes.undo()
    hyperopt_speedups.reuse_tpe_posterior_graph()
    hyperopt_speedups.replay_graph_evaluation()
    programs = []  # each graph's program, made once: None where it is left to Hyperopt
    real_program = hyperopt_speedups._program
    hyperopt_as_it_comes.setattr(hyperopt_speedups, "_program",
                                 lambda top, given: programs.append((top, real_program(top, given))) or programs[-1][1])
    shared_domain = [search(space, seed, key=f"test-{id(space)}") for seed in range(8)]
    assert shared_domain == plain
    assert any(trials != plain[0] for trials in plain[1:])  # the seeds matter: the comparison can fail
    # TPE's posterior and the random suggestions' graphs are replayed; only a graph with a switch is not
    replayed = [top for top, program in programs if program is not None]
    left = [top for top, program in programs if program is None]
    assert len(replayed) >= 2 and all("switch" in str(top) for top in left)
    assert bool(left) == (space is not NO_CHOICE)


def test_a_graph_is_evaluated_in_the_order_rec_eval_takes():
    # three random draws from one generator: their order decides which value each node gets
    rng = pyll.Literal()
    draws = [pyll.scope.uniform(0, 1, rng=rng) for _ in range(3)]
    graph = pyll.as_apply([draws[0] + draws[1], draws[2] * 2, draws[1]])
    hyperopt_speedups.replay_graph_evaluation()
    replayed = [pyll.rec_eval(graph, memo={rng: np.random.default_rng(seed)}) for seed in (1, 1, 2)]
    own = [pyll.rec_eval.__wrapped__(graph, memo={rng: np.random.default_rng(seed)}) for seed in (1, 1, 2)]
    assert replayed == own
    assert replayed[0] != replayed[2]


RNG = pyll.Literal()


def graph_of_a_uniform_draw(upper):
    """A node whose value is a graph, which rec_eval evaluates in turn (as Hyperopt's Lambdas)."""
    return pyll.scope.uniform(0, upper, rng=RNG)


pyll.scope.define_if_new(graph_of_a_uniform_draw)


def test_a_node_that_returns_a_graph_is_evaluated_as_rec_eval_does():
    graph = pyll.as_apply([pyll.scope.uniform(0, 1, rng=RNG), pyll.scope.graph_of_a_uniform_draw(5.0)])
    hyperopt_speedups.replay_graph_evaluation()
    replayed = [pyll.rec_eval(graph, memo={RNG: np.random.default_rng(seed)}) for seed in (4, 5)]
    assert replayed == [pyll.rec_eval.__wrapped__(graph, memo={RNG: np.random.default_rng(seed)}) for seed in (4, 5)]
    assert replayed[0] != replayed[1] and all(0 <= draws[1] <= 5 for draws in replayed)


def test_a_domain_is_shared_by_key_one_search_at_a_time():
    first = hyperopt_speedups.search_domain("test-shared", lambda: FLAT, lambda params: 1.0)
    # a second search while the first holds it (another thread) gets a Domain of its own
    meanwhile = hyperopt_speedups.search_domain("test-shared", lambda: FLAT, lambda params: 2.0)
    assert meanwhile is not first and (first.fn({}), meanwhile.fn({})) == (1.0, 2.0)
    first.fn = None  # its search ended
    second = hyperopt_speedups.search_domain("test-shared", lambda: pytest.fail("built twice"), lambda params: 3.0)
    assert second is first and second.fn({}) == 3.0
    assert hyperopt_speedups.search_domain("test-other", lambda: NESTED, lambda params: 4.0) is not first
    second.fn = None
