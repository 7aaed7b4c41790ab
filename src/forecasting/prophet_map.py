"""Prophet's maximum a posteriori fit in this process, without Stan.

Prophet fits by starting Stan's optimiser as a program of its own: the data
written as JSON, a process started, its CSV output read back. On series of a
few hundred points that costs more than the optimisation itself, and Stan's
L-BFGS often stops short of the optimum (the changepoint prior has a kink at
zero). For the models this job builds (linear or flat trend) the posterior of
prophet.stan has a structure that is solved exactly here instead:

- given the noise scale sigma_obs and (with multiplicative features) the
  seasonal coefficients, the mean is linear in the trend's, so minus the log
  posterior is a quadratic plus an L1 penalty on the rate changes (their
  Laplace prior): a small lasso, solved exactly by feature-sign search;
- given the trend, the seasonal coefficients solve a ridge regression (with
  additive features only, both are one lasso);
- given the rest, the best sigma_obs is the root of a quadratic in sigma^2.

Alternating these steps never increases the objective; it stops when the
objective no longer falls. With multiplicative features a round first tries
both blocks at once on the mean linearised where it stands (a Gauss-Newton
step: one lasso over both), kept only where it lowers the objective, and damped
towards where it stands (Levenberg-Marquardt) by a weight that shrinks after
each step kept and grows after each refused: on a ridge, where the trend's scale
and the seasonal factor trade off, the undamped step overshoots and the blocks
in turn crawl (monthly values fitted with 15 yearly terms, which the job now cuts to 6: 2000 rounds). Data that
some theta fits exactly have no mode (the density grows as sigma_obs goes to 0):
the exact fit is returned, with its tiny sigma_obs. A fit the solver gives up
on goes back to Stan.

Each step is exact, but with multiplicative features the objective is not
convex and the search finds a local mode. Where the trend comes near zero (a
series wound down to nothing, one that is mostly zeros) the seasonal factor is
free there, and either search can stop far below the other: this one on an
airport's international passengers (forecasts 40 times off), Stan's on a
product wound down. Such a fit is raised as a LocalMode, and the caller keeps
whichever of it and Stan's answer has the higher posterior density.
"""
from __future__ import annotations

import numpy as np

LINEAR, FLAT = 0, 2
# Prior scales fixed in prophet.stan: k ~ normal(0, 5), m ~ normal(0, 5), sigma_obs ~ normal(0, 0.5).
TREND_PRIOR_SD, SIGMA_PRIOR_SD = 5.0, 0.5
SIGMA_FLOOR = 1e-9
# A fit whose squared error is this small a part of y's variation about its mean is
# exact to rounding: the Gram matrix's form of the error cancels to about 1e-15 of it.
EXACT_FIT = 1e-12
# ... or this small a part of y's own squares: the coefficients, stored to about 1e-16
# of y's level, leave residuals of that size in any form.
EXACT_AT_LEVEL = 1e-24
VALUE_TOLERANCE = 1e-13  # relative decrease of the objective that ends the alternation
MAX_ROUNDS = 2000
# the joint step's damping, a multiple of its curvature's diagonal: where it starts, how it moves, its bounds
DAMPING_START, DAMPING_KEPT, DAMPING_REFUSED, DAMPING_MIN, DAMPING_MAX = 1e-3, 1 / 3, 4.0, 1e-9, 1e9
MAX_LASSO_STEPS = 1000
# A multiplicative fit whose trend comes this near zero or crosses it (in y's scale,
# its largest magnitude 1) somewhere in the history is compared with Stan's: the local
# modes found there were up to 300 worse in the objective than Stan's, or Stan's than
# these; M4's hourly series meet this in about 1 fit of 100, the airports' in 1 of 3.
MULTIPLICATIVE_TREND_FLOOR = 0.01


class NotConverged(RuntimeError):
    """The solver gave up; the caller fits with Stan instead."""


class LocalMode(NotConverged):
    """A multiplicative fit whose trend comes near zero, where the mode found may be
    only local: ``params`` holds it, for the caller to compare with Stan's (value_of)."""

    def __init__(self, params: dict[str, np.ndarray]):
        super().__init__("the trend of a multiplicative fit comes near zero, where its modes are local")
        self.params = params


def supports(stan_data: dict) -> bool:
    return int(stan_data["trend_indicator"]) in (LINEAR, FLAT)


class Posterior:
    """Minus the log posterior density of prophet.stan, up to the constant that
    Stan's optimiser leaves out too, for one series' data.

    The coefficients theta = [k, m, delta (S changes), beta (K features)] enter
    the mean as trend * (1 + X_m beta) + X_a beta, where trend = [t, 1, changes]
    @ [k, m, delta] and change j adds delta_j (t - t_change_j) after it. Without
    multiplicative features the mean is linear in theta, and the squared error
    comes from the small Gram matrix of [t, 1, changes, X_a], taken about y's
    mean (the offset moved into m): a series that varies by a millionth of its
    level would otherwise lose its whole error to the Gram form's rounding."""

    def __init__(self, stan_data: dict):
        y = np.asarray(stan_data["y"], dtype=float)
        t = np.asarray(stan_data["t"], dtype=float)
        t_change = np.asarray(stan_data["t_change"], dtype=float).reshape(-1)
        features = np.asarray(stan_data["X"], dtype=float).reshape(len(y), -1)
        trend_design = np.column_stack([t, np.ones_like(t), np.maximum(t[:, None] - t_change[None, :], 0.0)])
        if int(stan_data["trend_indicator"]) == FLAT:
            trend_design[:, [0, *range(2, trend_design.shape[1])]] = 0.0  # k and delta keep only their priors
        self.y, self.trend_design, self.n_trend = y, trend_design, trend_design.shape[1]
        self.additive = features * np.asarray(stan_data["s_a"], dtype=float).reshape(1, -1)
        self.multiplicative = features * np.asarray(stan_data["s_m"], dtype=float).reshape(1, -1)
        self.n_points, self.tau = len(y), float(stan_data["tau"])
        self.level = float(y.mean())
        centred = y - self.level
        # the noise scale of an exact fit (noise_scale's root, near enough, for the error at rounding)
        exact_error = EXACT_FIT * (centred @ centred) + EXACT_AT_LEVEL * (y @ y)
        self.exact_fit_sigma = max(SIGMA_FLOOR, float(np.sqrt(exact_error / len(y))))
        sigmas = np.asarray(stan_data["sigmas"], dtype=float).reshape(-1)
        # ridge weights of the normal priors: k and m, none for delta, beta
        self.prior_precision = np.concatenate([[TREND_PRIOR_SD**-2] * 2, np.zeros(self.n_trend - 2), sigmas**-2.0])
        self.penalised = np.zeros(len(self.prior_precision), dtype=bool)
        self.penalised[2:self.n_trend] = True
        # with features multiplying the trend, the design depends on beta: no Gram matrix, fits take rounds
        self.multiplicative_features = bool(np.any(self.multiplicative))
        self.gram = None
        if not self.multiplicative_features:
            design = np.hstack([trend_design, self.additive])
            self.gram, self.design_y, self.yy = design.T @ design, design.T @ centred, float(centred @ centred)

    def coefficients(self, params: dict) -> np.ndarray:
        return np.concatenate([
            [float(np.ravel(params["k"])[0]), float(np.ravel(params["m"])[0])],
            np.ravel(params["delta"]).astype(float), np.ravel(params["beta"]).astype(float),
        ])

    def trend(self, theta: np.ndarray) -> np.ndarray:
        return self.trend_design @ theta[:self.n_trend]

    def centred(self, theta: np.ndarray) -> np.ndarray:
        """``theta`` for y about its mean: m less the mean (m's column is ones)."""
        shifted = theta.copy()
        shifted[1] -= self.level
        return shifted

    def squared_error(self, theta: np.ndarray) -> float:
        if self.gram is not None:
            shifted = self.centred(theta)
            return max(self.yy - 2 * shifted @ self.design_y + shifted @ self.gram @ shifted, 0.0)
        beta = theta[self.n_trend:]
        residual = self.y - self.trend(theta) * (1 + self.multiplicative @ beta) - self.additive @ beta
        return float(residual @ residual)

    def noise_scale(self, theta: np.ndarray) -> float:
        """The sigma_obs that maximises the posterior given theta: the root of
        sigma^4 / sd^2 + T sigma^2 - rss, in a form free of cancellation."""
        rss, n = self.squared_error(theta), self.n_points
        return max(np.sqrt(2 * rss / (n + np.sqrt(n * n + 4 * rss / SIGMA_PRIOR_SD**2))), SIGMA_FLOOR)

    def value(self, theta: np.ndarray, sigma: float) -> float:
        """Minus the log posterior density, as Stan's optimiser reports it (lp__, negated)."""
        return float(
            self.n_points * np.log(sigma) + self.squared_error(theta) / (2 * sigma**2)
            + sigma**2 / (2 * SIGMA_PRIOR_SD**2) + theta @ (self.prior_precision * theta) / 2
            + np.abs(theta[self.penalised]).sum() / self.tau
        )

    def improve(self, theta: np.ndarray, sigma: float) -> np.ndarray:
        """The best theta given sigma; with multiplicative features, the best trend
        given beta and then the best beta given the trend (each step exact)."""
        if self.gram is not None:
            # solved for the centred theta; m's prior, centred at 0, now pulls it towards minus the mean
            hessian = self.gram / sigma**2 + np.diag(self.prior_precision)
            linear = self.design_y / sigma**2
            linear[1] -= self.level * self.prior_precision[1]
            shifted = lasso(hessian, linear, self.penalised, 1 / self.tau, self.centred(theta))
            shifted[1] += self.level
            return shifted
        n, theta = self.n_trend, theta.copy()
        beta = theta[n:]
        design = self.trend_design * (1 + self.multiplicative @ beta)[:, None]
        target = self.y - self.additive @ beta
        hessian = design.T @ design / sigma**2 + np.diag(self.prior_precision[:n])
        theta[:n] = lasso(hessian, design.T @ target / sigma**2, self.penalised[:n], 1 / self.tau, theta[:n])
        trend = self.trend(theta)
        design = trend[:, None] * self.multiplicative + self.additive
        hessian = design.T @ design / sigma**2 + np.diag(self.prior_precision[n:])
        theta[n:] = np.linalg.solve(hessian, design.T @ (self.y - trend) / sigma**2)
        return theta

    def gauss_newton(self, theta: np.ndarray, sigma: float, damping: float = 0.0) -> np.ndarray:
        """With multiplicative features: the best theta given sigma for the mean
        linearised at ``theta`` (trend and seasonal coefficients together, where
        improve takes them in turn), a lasso on all of them; ``damping`` times the
        curvature's diagonal holds each coefficient towards where it stands."""
        n = self.n_trend
        beta = theta[n:]
        trend = self.trend(theta)
        seasonal = self.multiplicative @ beta
        jacobian = np.hstack([
            self.trend_design * (1 + seasonal)[:, None],  # d mean / d trend coefficients
            trend[:, None] * self.multiplicative + self.additive,  # d mean / d beta
        ])
        target = self.y + trend * seasonal  # y - mean + jacobian @ theta
        curvature = jacobian.T @ jacobian / sigma**2
        held = damping * np.diag(curvature)  # 1/2 (x - theta)' diag(held) (x - theta) added
        hessian = curvature + np.diag(self.prior_precision + held)
        return lasso(hessian, jacobian.T @ target / sigma**2 + held * theta, self.penalised, 1 / self.tau, theta)


def lasso(hessian: np.ndarray, linear: np.ndarray, penalised: np.ndarray, weight: float,
          start: np.ndarray) -> np.ndarray:
    """Minimise 1/2 x'Hx - b'x + weight * sum |x[penalised]| for positive definite H,
    from ``start``, by feature-sign search (Lee, Battle, Raina and Ng, 2007): guess
    the signs of the penalised coordinates, solve the quadratic on the nonzero
    ones, step back to where a sign would flip, and free the zero coordinate
    whose gradient breaks optimality most, until none does."""
    x = start.astype(float).copy()
    signs = np.where(penalised, np.sign(x), 0.0)
    active = ~penalised | (x != 0)

    def objective(point: np.ndarray) -> float:
        return 0.5 * point @ hessian @ point - linear @ point + weight * np.abs(point[penalised]).sum()

    for _ in range(MAX_LASSO_STEPS):
        free = np.flatnonzero(active)
        target = np.linalg.solve(hessian[np.ix_(free, free)], linear[free] - weight * signs[free])
        current, on_penalty = x[free], penalised[free]
        flipped = on_penalty & (np.sign(target) != signs[free])
        if flipped.any():
            # the best of the target and the points where a coefficient reaches zero
            with np.errstate(divide="ignore", invalid="ignore"):
                crossings = np.where(flipped & (current != 0), current / (current - target), np.inf)
            steps = np.unique(crossings[(crossings > 0) & (crossings < 1)])
            candidates = [target, *(current + step * (target - current) for step in steps)]
            values = []
            for candidate in candidates:
                trial = x.copy()
                trial[free] = candidate
                values.append(objective(trial))
            chosen = candidates[int(np.argmin(values))]
            x[free] = np.where(on_penalty & (np.sign(chosen) != signs[free]), 0.0, chosen)
        else:
            x[free] = target
        signs = np.where(penalised, np.sign(x), 0.0)
        active = ~penalised | (x != 0)
        if flipped.any():
            continue
        gradient = hessian @ x - linear
        violation = np.where(penalised & (x == 0), np.abs(gradient) - weight, -np.inf)
        worst = int(np.argmax(violation))
        if violation[worst] <= 1e-10 * max(1.0, weight):
            return x
        signs[worst], active[worst] = -np.sign(gradient[worst]), True
    raise NotConverged("feature-sign search did not settle")


def _round(posterior: Posterior, theta: np.ndarray, sigma: float, value: float,
           damping: float) -> tuple[np.ndarray, float, float, float]:
    """One round of the search: theta, sigma_obs, the objective and the joint
    step's damping after it. With multiplicative features, the joint step where
    it lowers the objective (taken in turn, the trend and seasonal blocks zigzag:
    on M4's hourly series 24 rounds a fit against 12); else improve and the best
    sigma_obs, which never raise it."""
    if posterior.multiplicative_features:
        try:
            joint = posterior.gauss_newton(theta, sigma, damping)
        except (NotConverged, np.linalg.LinAlgError):
            joint = None
        if joint is not None and np.all(np.isfinite(joint)):
            with np.errstate(over="ignore", invalid="ignore"):  # a wild step's NaN objective is refused below
                joint_sigma = posterior.noise_scale(joint)
                joint_value = posterior.value(joint, joint_sigma)
            if joint_value < value:
                return joint, joint_sigma, joint_value, max(damping * DAMPING_KEPT, DAMPING_MIN)
        damping = min(damping * DAMPING_REFUSED, DAMPING_MAX)
    theta = posterior.improve(theta, sigma)
    sigma = posterior.noise_scale(theta)
    return theta, sigma, posterior.value(theta, sigma), damping


def fit(stan_init: dict, stan_data: dict) -> dict[str, np.ndarray]:
    """The posterior mode from Prophet's starting point, in the shape Prophet's
    Stan backend returns: each parameter a (1, n) array."""
    posterior = Posterior(stan_data)
    theta = posterior.coefficients(stan_init)
    sigma = posterior.noise_scale(theta)
    value, damping = posterior.value(theta, sigma), DAMPING_START
    for _ in range(MAX_ROUNDS):
        if sigma <= posterior.exact_fit_sigma:
            # theta fits the data exactly, to rounding (a straight line, a pure cycle):
            # the density grows without bound as sigma_obs goes to 0, so there is no
            # mode to find (Stan's optimiser stops somewhere on the way, at a second a
            # fit), and a round at this sigma is ill-conditioned. The exact fit it is.
            break
        previous = value
        theta, sigma, value, damping = _round(posterior, theta, sigma, value, damping)
        if previous - value <= VALUE_TOLERANCE * max(1.0, abs(value)):
            break
    else:
        raise NotConverged("the alternation did not settle")
    if not np.all(np.isfinite(theta)):
        raise NotConverged("the solution is not finite")
    n, trend = posterior.n_trend, posterior.trend(theta)
    params = {
        "k": theta[:1], "m": theta[1:2], "delta": theta[2:n], "sigma_obs": np.array([sigma]), "beta": theta[n:],
        "trend": trend,
    }
    params = {name: np.asarray(value, dtype=float).reshape(1, -1) for name, value in params.items()}
    if posterior.multiplicative_features and trend.min() <= MULTIPLICATIVE_TREND_FLOOR \
            and trend.max() >= -MULTIPLICATIVE_TREND_FLOOR:
        raise LocalMode(params)
    return params


def value_of(stan_data: dict, params: dict) -> float:
    """Minus the log posterior density at a fit's parameters (Stan's lp__, negated)."""
    posterior = Posterior(stan_data)
    return posterior.value(posterior.coefficients(params), float(np.ravel(params["sigma_obs"])[0]))
