"""Hyperopt's fixed costs per search and per suggestion, cut without changing a suggestion.

A series' search is short (6-8 evaluations by default) and every series has one,
so what Hyperopt does around the evaluations weighed 15-20% of a series' CPU:
- ``reuse_tpe_posterior_graph``: TPE builds its posterior graph for every
  suggestion; built once per search space instead.
- ``search_domain``: ``fmin`` builds a ``Domain`` (the space's graph, vectorised)
  for every search; built once per search space and process instead, so the
  posterior graph above is built once per process too.
- ``replay_graph_evaluation``: ``pyll.rec_eval`` works out the order to evaluate
  a graph's nodes in every time it runs (a walk of the whole graph, a stack, and
  bookkeeping per node to free values early); a graph evaluated again from the
  same given nodes is evaluated in the order worked out the first time instead.

The suggestions are the same: the same graphs, their nodes evaluated in the same
order (so the random draws come in the same order), as the tests check.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable

_install_lock = threading.RLock()  # also guards the caches below


def reuse_tpe_posterior_graph() -> None:
    """Make Hyperopt's TPE build its posterior graph once per Domain instead of for
    every suggestion (hyperopt 0.2.7 builds it each time, even for the random first
    points).

    The graph depends only on the search space (the Domain) and TPE's prior weight
    and gamma; each suggestion evaluates it with the trials so far in a memo of its
    own, so the suggestions are the same."""
    from hyperopt import tpe

    with _install_lock:
        build = tpe.build_posterior_wrapper
        if getattr(build, "reuses_graph", False):
            return

        def build_once(domain, prior_weight, gamma):
            graphs = domain.__dict__.setdefault("_posterior_graphs", {})
            if (prior_weight, gamma) not in graphs:
                graphs[(prior_weight, gamma)] = build(domain, prior_weight, gamma)
            return graphs[(prior_weight, gamma)]

        build_once.reuses_graph, build_once.__wrapped__ = True, build
        tpe.build_posterior_wrapper = build_once


_domains: OrderedDict[str, Any] = OrderedDict()
MAX_DOMAINS = 8


def search_domain(key: str, make_space: Callable[[], dict], objective: Callable) -> Any:
    """The Hyperopt ``Domain`` of the space ``make_space()`` makes, built once per
    ``key`` (a text naming the space) in this process, calling ``objective``. The
    caller sets its ``fn`` back to None when its search ends.

    A Domain holds its space's graphs and the objective and nothing of a search's
    own (the trials are kept apart), so searches one after another share it. A
    search while another one holds it (threads) gets a Domain of its own."""
    from hyperopt import base

    with _install_lock:
        domain = _domains.get(key)
        if domain is None:
            domain = _domains[key] = base.Domain(None, make_space())
            while len(_domains) > MAX_DOMAINS:
                _domains.popitem(last=False)
        _domains.move_to_end(key)
        if domain.fn is not None:  # in use
            return base.Domain(objective, make_space())
        domain.fn = objective
        return domain


def _evaluation_order(top, given) -> list | None:
    """The nodes of graph ``top`` in the order ``pyll.rec_eval`` evaluates them when
    ``given`` nodes have values already: it pops a node, and where some of its inputs
    have no value yet pushes it back with them. None where the graph has a
    conditional (``switch``): which branch it evaluates depends on the values."""
    from hyperopt.pyll.base import Literal

    known, order, todo = set(given), [], [top]
    while todo:
        node = todo.pop()
        if node in known:
            continue
        if node.name == "switch":
            return None
        waiting = [] if isinstance(node, Literal) else [v for v in node.inputs() if v not in known]
        if waiting:
            todo.append(node)
            todo.extend(waiting)
        else:
            known.add(node)
            order.append(node)
    return order


def _program(top, given) -> list | None:
    """Each node of ``_evaluation_order`` with its function and inputs, looked up once."""
    from hyperopt.pyll.base import Literal, scope

    order = _evaluation_order(top, given)
    if order is None:
        return None
    return [
        (node, None, node.obj, ()) if isinstance(node, Literal)
        else (node, scope._impls[node.name], tuple(node.pos_args), tuple(node.named_args))
        for node in order
    ]


MAX_PROGRAMS = 32


def replay_graph_evaluation() -> None:
    """Make ``pyll.rec_eval`` evaluate a graph it has seen before from the same given
    nodes in the order it worked out the first time (``_evaluation_order``), without
    walking the graph again. Graphs with conditionals, and calls asking for copies
    of inputs or a trace, are left to Hyperopt's own. The programs of the last
    ``MAX_PROGRAMS`` graphs are kept (the graph objects too, so ids are not reused)."""
    from hyperopt import pyll
    from hyperopt.pyll import base

    with _install_lock:
        evaluate = pyll.rec_eval
        if getattr(evaluate, "replays", False):
            return
        programs: OrderedDict[tuple, tuple] = OrderedDict()

        def replay(expr, deepcopy_inputs=False, memo=None, max_program_len=None, memo_gc=True,
                   print_trace=False, print_node_on_error=True):
            if deepcopy_inputs or print_trace or not memo:
                return evaluate(expr, deepcopy_inputs, memo, max_program_len, memo_gc, print_trace,
                                print_node_on_error)
            key = (id(expr), frozenset(memo))
            with _install_lock:
                kept = programs.get(key)
                if kept is None or kept[0] is not expr:
                    top = base.as_apply(expr)  # a list or dict becomes a new node: kept with its program
                    kept = programs[key] = (expr, top, _program(top, memo))
                    while len(programs) > MAX_PROGRAMS:
                        programs.popitem(last=False)
                programs.move_to_end(key)
            _, top, steps = kept
            if steps is None:
                return evaluate(expr, deepcopy_inputs, memo, max_program_len, memo_gc, print_trace,
                                print_node_on_error)
            values = dict(memo)
            for node, function, inputs, named in steps:
                if function is None:  # a literal: its value is in ``inputs``' place
                    values[node] = inputs
                    continue
                value = function(*[values[i] for i in inputs], **{name: values[i] for name, i in named})
                if isinstance(value, base.Apply):  # a node that returns a graph (a Lambda): as rec_eval does
                    value = evaluate(value, deepcopy_inputs, values, memo_gc=memo_gc)
                values[node] = value
            return values[top]

        replay.replays, replay.__wrapped__ = True, evaluate
        pyll.rec_eval = base.rec_eval = replay
