"""Devito operator builders, and the cache that compiles each one once per geometry.

The builders are pure: they create template symbols on a Devito ``Grid`` and return an
``Operator``. Propagators run them on their own Functions, passed by name at apply time
(``u``, ``v``, ``du``, ``vp2``, ``dm``, ``grad``, ``src``, ``rec``, ``usave``, the C-PML
profiles and memory variables), so one compiled operator serves every shot, model and
time range on the same grid.

The kinds (``KINDS``): ``forward`` (data), ``forward_stored`` (data, and every
``factor``-th level of the wavefield into ``usave``), ``jacobian_adjoint`` (the adjoint
wavefield run backward from an adjoint source, correlated with ``usave`` into the gradient
w.r.t. m: the adjoint of the Jacobian) and ``born`` (the linearised data J dm).

Units are Devito's: metres, milliseconds, km/s, m = 1/vp² (see :mod:`.units`).
The discrete system, for every kind, is the leapfrog scheme of
``m u_tt - lap(u) = f`` with C-PML absorbing strips; the ``jacobian_adjoint`` and ``born``
operators are its exact discrete adjoint and linearisation (checked by the dot-product
tests). The kernels take the model as ``vp2 = 1/m`` (km/s)², so that every step multiplies
by ``dt² vp2`` instead of dividing by ``m`` (forward on 640 x 240 cells: -12%); ``dm`` and
the gradient stay w.r.t. m.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np
from devito import (
    ConditionalDimension,
    Eq,
    Function,
    Grid,
    Inc,
    Operator,
    SparseTimeFunction,
    SubDomain,
    TimeFunction,
    configuration,
)

from ._devito import (
    FindNodes,
    Iteration,
    clear_stale_compile_lock,
    compiled_function,
    subsampling_factor_argument,
)
from .boundary import mirror_correction
from .grid import ModelGrid
from .threads import kernel_threads

KINDS = ("forward", "forward_stored", "jacobian_adjoint", "born")
# Accuracy of the C-PML's derivative stencils (the interior uses the operator's space order).
PML_SPACE_ORDER = 4
# Below this many grid points an operator runs on one thread (measured: a 80 x 70 grid runs
# ~1000x slower on 2 busy-waiting threads of a loaded 2-core machine than on one).
SMALL_GRID_POINTS = 40_000


@dataclass(frozen=True)
class OperatorKey:
    """What makes two compiled operators identical: geometry, stencil order, dtype, kind."""

    grid: ModelGrid
    space_order: int
    dtype: str
    kind: str


class _BuildCounter:
    """How many Operators this process has built (tests check reuse with it)."""

    count = 0


def operators_built() -> int:
    """Number of Devito Operators built so far in this process."""
    return _BuildCounter.count


@cache
def devito_grid(grid: ModelGrid, dtype: str) -> Grid:
    """The Devito ``Grid`` of a padded model (one per geometry and dtype)."""
    extent = tuple((n - 1) * h for n, h in zip(grid.padded_shape, grid.spacing, strict=True))
    return Grid(
        shape=grid.padded_shape,
        extent=extent,
        origin=grid.padded_origin,
        dtype=np.dtype(dtype).type,
    )


def wavefield(name: str, grid: Grid, space_order: int, save: int | None = None,
              time_order: int = 2) -> TimeFunction:
    """A wavefield (second order in time) or a PML memory variable (``time_order`` 1);
    ``save`` stores that many time levels."""
    return TimeFunction(name=name, grid=grid, time_order=time_order, space_order=space_order,
                        save=save)


@cache
def _storage_dim(grid: Grid, factor: int) -> ConditionalDimension:
    """Every ``factor``-th time step. Operators are compiled with factor 1 and take the factor
    at run time (:func:`storage_factor_argument`); a stored wavefield's own factor sets its
    time range."""
    return ConditionalDimension("tsave", parent=grid.time_dim, factor=factor)


def stored_wavefield(grid: Grid, save: int, factor: int = 1) -> TimeFunction:
    """``usave``: ``save`` levels of the forward wavefield at every ``factor``-th time step."""
    return TimeFunction(name="usave", grid=grid, time_order=0, space_order=0, save=save,
                        time_dim=_storage_dim(grid, factor))


def storage_factor_argument(grid: Grid, factor: int) -> dict[str, int]:
    """The run-time argument that sets the storage factor of the operators that store or
    read ``usave``."""
    return subsampling_factor_argument(_storage_dim(grid, factor), factor)


def halo_shape(grid: ModelGrid, space_order: int) -> tuple[int, ...]:
    """The shape of one level of a field of ``space_order`` on ``grid``'s padded grid, with
    its halo (Devito's: ``space_order`` cells on each side), before any is allocated."""
    return tuple(n + 2 * space_order for n in grid.padded_shape)


def model_function(name: str, grid: Grid, space_order: int) -> Function:
    """A model-shaped field on the padded grid (squared velocity, gradient...)."""
    return Function(name=name, grid=grid, space_order=space_order)


def sparse_points(name: str, grid: Grid, npoint: int, nt: int) -> SparseTimeFunction:
    """Point sources or receivers with ``nt`` time samples."""
    return SparseTimeFunction(name=name, grid=grid, npoint=npoint, nt=nt)


# -- the boundaries ---------------------------------------------------------------------
def pml_axes(grid: ModelGrid) -> tuple[int, ...]:
    """Axes with a C-PML strip on at least one side (none when the width is 0)."""
    return tuple(i for i, (lo, hi) in enumerate(grid.pad_widths) if lo or hi)


def memory_names(grid: ModelGrid, field: str) -> tuple[str, ...]:
    """Names of the C-PML memory variables of wavefield ``field`` (``u``, ``du`` or ``v``):
    ``psi_<field>_<axis>`` (first derivative) then ``zeta_<field>_<axis>`` (second), per axis.

    Axis names are Devito's (``x, y`` in 2-D, ``x, y, z`` in 3-D; depth last).
    """
    names = ("x", "y", "z")[: grid.ndim]
    return tuple(f"{kind}_{field}_{names[i]}" for i in pml_axes(grid) for kind in ("psi", "zeta"))


def pml_profile_name(coefficient: str, axis: int) -> str:
    """The name that binds a C-PML profile (``coefficient`` "a" or "b") of ``axis`` between
    the operators and the arrays a propagator fills."""
    return f"pml_{coefficient}_{'xyz'[axis]}"


def profile_function(name: str, grid: Grid, axis: int, space_order: int) -> Function:
    """A 1-D coefficient along ``axis`` of the padded grid (C-PML ``a``/``b`` profiles); its
    halo (zero) is as wide as the stencil's, which reads it at neighbours."""
    dim = grid.dimensions[axis]
    return Function(name=name, dimensions=(dim,), shape=(grid.shape[axis],), grid=grid,
                    space_order=space_order)


class _Strip(SubDomain):
    """The cells of one side of one axis, ``width`` deep, whole along the other axes."""

    def __init__(self, name: str, axis: int, side: str, width: int, grid: Grid) -> None:
        self.name = name
        self.axis, self.side, self.width = axis, side, width
        super().__init__(grid=grid)

    def define(self, dimensions):
        return {d: ((self.side, self.width) if i == self.axis else d)
                for i, d in enumerate(dimensions)}


@cache
def _strips(model_grid: ModelGrid, dtype: str, reach: int) -> dict[int, list[SubDomain]]:
    """Per PML axis, its strips widened by ``reach`` cells into the interior."""
    grid = devito_grid(model_grid, dtype)
    strips: dict[int, list[SubDomain]] = {}
    for axis in pml_axes(model_grid):
        for side, width in zip(("left", "right"), model_grid.pad_widths[axis], strict=True):
            if width:
                name = f"pml{axis}{side}{reach}"
                strips.setdefault(axis, []).append(
                    _Strip(name, axis, side, min(width + reach, model_grid.padded_shape[axis]),
                           grid))
    return strips


def _derivative(expr, dim, order: int, fd_order: int):
    """``d^order expr / d dim^order`` with a centred stencil of accuracy ``fd_order``."""
    name = f"d{dim.name}" + ("2" if order == 2 else "")
    return getattr(expr, name)(fd_order=fd_order)


class _Boundary:
    """The boundary terms of one operator: C-PML strips and the free-surface mirror.

    :meth:`forward` returns the equations that advance a wavefield by one step, given an
    extra right-hand side; :meth:`adjoint` those of the exact transpose of that step.
    """

    def __init__(self, model_grid: ModelGrid, dtype: str, space_order: int) -> None:
        self.model_grid = model_grid
        self.grid = devito_grid(model_grid, dtype)
        self.so = space_order
        # The C-PML's own derivatives need less accuracy than the interior's: its terms
        # vanish at the strips' inner edge and damp what they touch.
        self.pml_order = min(space_order, PML_SPACE_ORDER)
        self.axes = pml_axes(model_grid)
        self.a, self.b = (
            {i: profile_function(pml_profile_name(c, i), self.grid, i, self.so)
             for i in self.axes} for c in "ab")
        # Where each axis's memory variables are updated: its strips (the adjoint's psi and
        # zeta), widened by the stencil's reach where D psi is read (the forward's updates,
        # the adjoint's stretch terms). Along depth, the innermost loop,
        # the strips are short runs of every row, yet cheaper than whole-grid loops (forward
        # on 646 x 246 cells, 2 threads: 0.67 -> 0.51 s).
        self.strips, self.reach = (_strips(model_grid, dtype, reach)
                                   for reach in (0, self.pml_order // 2))

    def memories(self, field: str) -> dict[int, tuple[TimeFunction, TimeFunction]]:
        """Per PML axis, the template memory variables (psi, zeta) of ``field``."""
        names = iter(memory_names(self.model_grid, field))
        return {i: (wavefield(next(names), self.grid, self.so, time_order=1),
                    wavefield(next(names), self.grid, self.so, time_order=1))
                for i in self.axes}

    def surface_mask(self, expr):
        """``expr`` zeroed on the top row under a free surface (what sources inject)."""
        if not self.model_grid.free_surface:
            return expr
        # The mask is the geometry's (the operator's key), so the kernel owns its data.
        keep = profile_function("surface_keep", self.grid, self.grid.dim - 1, self.so)
        keep.data[:] = 1
        keep.data[0] = 0
        return expr * keep

    def _mirror(self, new, old, weight) -> list:
        """Free-surface correction of the depth stencil (:func:`.boundary.mirror_correction`)."""
        if not self.model_grid.free_surface:
            return []
        z = self.grid.dimensions[-1]
        h2 = z.spacing ** 2
        eqs = []
        for row, terms in mirror_correction(self.so).items():
            lhs = new.subs(z, row)
            rhs = sum(w * old.subs(z, j) for j, w in terms.items()) / h2
            eqs.append(Inc(lhs, weight.subs(z, row) * rhs))
        return eqs

    def _axes(self, field: str):
        """Per PML axis: index, Devito dimension, profiles ``a``, ``b`` and the memory
        variables ``psi``, ``zeta`` of ``field``."""
        for i, (psi, zeta) in self.memories(field).items():
            yield i, self.grid.dimensions[i], self.a[i], self.b[i], psi, zeta

    def forward(self, u: TimeFunction, vp2: Function, rhs=0, field: str = "u") -> list:
        """``u^{n+1} = 2u^n - u^{n-1} + dt²/m (L u^n + rhs)``, ``L`` the C-PML laplacian.

        The interior is one plain-laplacian loop; per axis and strip (widened by the
        stencil's reach, where ``D ψ`` lives), ``ψ``, then ``ζ`` and the stretch terms added
        to ``u^{n+1}``.
        """
        w = self.grid.stepping_dim.spacing**2 * vp2
        order = self.pml_order
        strips = {}
        for i, d, a, b, psi, zeta in self._axes(field):
            dpsi = _derivative(psi.forward, d, 1, order)
            # psi over the widened strips too (0 beyond the strip, where a = b = 0): the
            # three updates then share their loops.
            strips[i] = [eq for s in self.reach[i] for eq in (
                Eq(psi.forward, b * psi + a * _derivative(u, d, 1, order), subdomain=s),
                Eq(zeta.forward, b * zeta + a * (_derivative(u, d, 2, order) + dpsi),
                   subdomain=s),
                Inc(u.forward, w * (dpsi + zeta.forward), subdomain=s))]
        eqs = [Eq(u.forward, 2 * u - u.backward + w * (u.laplace + rhs))]
        return eqs + self._in_strip_order(strips) + self._mirror(u.forward, u, w)

    def adjoint(self, v: TimeFunction, vp2: Function, field: str = "v") -> list:
        """The exact transpose of :meth:`forward`'s step, run backward in time on
        ``v = dt²/m λ`` (``λ`` the adjoint state of ``u``)::

            Z^n = b Z^{n+1} + v,  Q = v + a Z^n,  P^n = b P^{n+1} - D Q
            v^{n-1} = 2v^n - v^{n+1} + dt²/m (Δv + Σ_d (D2 (a Z^n) - D (a P^n)))

        (``D`` is antisymmetric and ``D2`` symmetric: transposing the memory recursions
        gives these; ``P`` and ``Z`` matter only where ``a`` does, in the strips: one loop
        updates both, ``Z^n`` inlined into ``D Q``, a second adds the stretch terms.)
        """
        w = self.grid.stepping_dim.spacing**2 * vp2
        order = self.pml_order
        strips = {}
        for i, d, a, b, psi, zeta in self._axes(field):
            q = v + a * (b * zeta + v)
            strips[i] = [eq for s in self.strips[i] for eq in (
                Eq(zeta.backward, b * zeta + v, subdomain=s),
                Eq(psi.backward, b * psi - _derivative(q, d, 1, order), subdomain=s))]
            strips[i] += [Inc(v.backward, w * (_derivative(a * zeta.backward, d, 2, order)
                                               - _derivative(a * psi.backward, d, 1, order)),
                              subdomain=s) for s in self.reach[i]]
        eqs = [Eq(v.backward, 2 * v - v.forward + w * v.laplace)]
        return eqs + self._in_strip_order(strips) + self._mirror(v.backward, v, w)

    def _in_strip_order(self, strips: dict[int, list]) -> list:
        """The strips' equations of every axis, depth first.

        Written right after the interior's, the depth strips' equations share its loop over
        the outer rows (Devito fuses them), so each row's two short strip runs find it in
        cache instead of in a later sweep of their own. Measured against the former order
        (interior, then every axis's strips), alternating in one process, 2 threads: the
        2-D forward on 646 x 246 cells takes 9% less time (12% with a free surface), the 3-D
        forward on 140 x 140 x 100 cells 30% less; the data the same to rounding (1e-6).
        """
        depth = self.grid.dim - 1
        return strips.pop(depth, []) + [eq for i in sorted(strips) for eq in strips[i]]


def _build(key: OperatorKey) -> Operator:
    grid = devito_grid(key.grid, key.dtype)
    so = key.space_order
    dt = grid.stepping_dim.spacing
    boundary = _Boundary(key.grid, key.dtype, so)
    vp2 = model_function("vp2", grid, so)  # 1/m
    src = sparse_points("src", grid, 1, 3)
    rec = sparse_points("rec", grid, 1, 3)

    def injected(points):
        # A positive source sample raises the pressure next to it (m u_tt - lap u = f).
        return boundary.surface_mask(points * dt**2 * vp2)

    if key.kind == "forward":
        u = wavefield("u", grid, so)
        eqs = boundary.forward(u, vp2)
        eqs += src.inject(field=u.forward, expr=injected(src))
        eqs += rec.interpolate(expr=u)
    elif key.kind == "forward_stored":
        u = wavefield("u", grid, so)
        usave = stored_wavefield(grid, 3)
        eqs = boundary.forward(u, vp2)
        eqs += src.inject(field=u.forward, expr=injected(src))
        eqs += rec.interpolate(expr=u)
        eqs += [Eq(usave, u)]  # level t at t % factor == 0
    elif key.kind == "jacobian_adjoint":
        usave = stored_wavefield(grid, 3)
        v = wavefield("v", grid, so)
        grad = model_function("grad", grid, so)
        eqs = boundary.adjoint(v, vp2)
        eqs += rec.inject(field=v.backward, expr=injected(rec))
        # -sum_t u * v_tt equals -sum_t u_tt * v (summation by parts, zero end states): the
        # adjoint of the Born source -dm * u_tt, summed over the stored steps only, each
        # standing for factor steps.
        factor = _storage_dim(grid, 1).symbolic_factor
        eqs += [Inc(grad, -factor * usave * v.dt2)]
    elif key.kind == "born":
        u = wavefield("u", grid, so)
        du = wavefield("du", grid, so)
        dm = model_function("dm", grid, so)
        eqs = boundary.forward(u, vp2)
        eqs += src.inject(field=u.forward, expr=injected(src))
        # The scattered field sees the background's u_tt after this step's injection.
        eqs += boundary.forward(du, vp2, rhs=-dm * u.dt2, field="du")
        eqs += rec.interpolate(expr=du)
    else:
        raise ValueError(f"unknown operator kind {key.kind!r}; expected one of {KINDS}")
    _BuildCounter.count += 1
    # blockrelax makes the stencil loops blocked (in 2-D too), so that thread_bands() can give
    # each thread one contiguous band of x (Devito otherwise hands out single rows dynamically).
    # Not under MPI: there a rank without a source point has an empty, blocked sparse loop,
    # which Devito refuses at apply (and the other ranks then wait for it forever).
    relax = not configuration["mpi"]
    return Operator(eqs, subs=grid.spacing_map, name=f"crfwi_{key.kind}",
                    opt=("advanced", {"blockrelax": relax, "cire-mingain": 10**9}))


@lru_cache(maxsize=64)
def get_operator(key: OperatorKey) -> Operator:
    """The compiled operator for ``key``, built on first use and reused afterwards."""
    return _build(key)


# In 3-D whole (y, z) planes per x row fill L2: a stencil of order 8 reads 9 planes, 405 KB
# on 128 x 88 and 504 KB on 140 x 100 (L2 512 KB here). Blocks of 32 along y keep them well
# inside it: the 3-D forward on 128 x 128 x 88 padded cells ran 10-20% faster with blocks of
# 8, 16 or 32 than with whole planes (4 alternations each, 2 threads).
Y_BLOCK_3D = 32


def thread_bands(op: Operator, args: dict, nthreads: int) -> dict[str, int]:
    """Block sizes that give each of ``nthreads`` threads one contiguous band of x rows.

    Devito blocks the outer two space loops: (x, z) in 2-D, where its second dimension
    (named ``y``) is depth, and (x, y) in 3-D, z staying the innermost whole loop. Either
    way each loop's x range (the whole grid, or a C-PML strip) is cut into one band per
    thread; the ranges are the loops' bounds in the operator's IET evaluated at ``args``.
    The second blocked dimension is kept whole in 2-D (depth: the contiguous rows the SIMD
    loops run along) and cut into blocks of ``Y_BLOCK_3D`` in 3-D.

    Without the bands every thread takes one row at a time: the rows it reads (the stencil's
    x-halo) were written by the other thread, and the cache lines bounce between cores every
    step. One band per thread keeps them local (measured on 646 x 246 cells, 2 threads:
    1.0 -> 2.6 GPts/s per step).
    """
    three_d = any(d.name == "z" for d in op.dimensions)
    sizes: dict[str, int] = {}
    for loop in FindNodes(Iteration).visit(op):
        name = f"{loop.dim.name}_size"
        symbols = loop.symbolic_min.free_symbols | loop.symbolic_max.free_symbols
        if (not loop.dim.is_Block or loop.dim.root.name not in ("x", "y")
                or name not in args or any(s.name not in args for s in symbols)):
            continue  # not a space block loop (or one inside a block, bounded by it)
        bounds = [int(b.subs({s: args[s.name] for s in b.free_symbols}))
                  for b in (loop.symbolic_min, loop.symbolic_max)]
        extent = bounds[1] - bounds[0] + 1
        if loop.dim.root.name == "x":
            size = -(-extent // nthreads)
        else:
            size = min(extent, Y_BLOCK_3D) if three_d else extent
        sizes[name] = max(sizes.get(name, 1), size)
    return sizes


class BoundOperator:
    """An operator bound to one set of arguments, re-run cheaply over time ranges.

    ``Operator.apply`` re-processes every argument on each call (milliseconds); bound
    once (``Operator.arguments``), a run is a direct call of the compiled function
    (:func:`._devito.compiled_function`), which matters when checkpointing runs hundreds
    of short time segments.

    Under Devito MPI (``DEVITO_MPI`` set) every run goes through ``apply``: it scatters
    sparse points to the ranks that own them and gathers receivers back, which a bound
    call would skip.
    """

    def __init__(self, op: Operator, **kwargs) -> None:
        self.op = op
        self.mpi = bool(configuration["mpi"])
        # Sources and receivers are a few points: a second thread only adds a barrier per
        # step (measured: forward -11% wall time on a 600 x 200 grid with 1 thread here).
        threads = {"nthreads_nonaffine": 1}
        grid_points = int(np.prod(kwargs["vp2"].shape))
        if grid_points < SMALL_GRID_POINTS:
            # Thread start-up and barriers cost more than the work on small grids, and
            # spinning OpenMP threads degrade badly when the cores are shared.
            threads = {"nthreads": 1, "nthreads_nonaffine": 1}
        if self.mpi:
            clear_stale_compile_lock(op)  # compiled_function does it otherwise
            self.kwargs = {**kwargs, **threads}
            return
        self.args = op.arguments(**kwargs)
        self.args.update(threads)
        # The bands are cut for every requested thread; a run on fewer takes several each.
        self.threads = int(self.args["nthreads"])
        self.args.update(thread_bands(op, self.args, self.threads))
        self._call = compiled_function(op)

    def run(self, time_m: int, time_M: int) -> None:  # noqa: N803 (Devito's names)
        """Run time steps ``time_m..time_M`` (inclusive; the operator's own direction)."""
        if self.mpi:
            self.op.apply(**{**self.kwargs, "time_m": time_m, "time_M": time_M})
            return
        self.args["time_m"] = time_m
        self.args["time_M"] = time_M
        self.args["nthreads"] = kernel_threads(self.threads)
        self._call(self.args)


def gather_points(sparse: SparseTimeFunction) -> np.ndarray:
    """All points of ``sparse`` (time, point) on every rank; its own data without MPI.

    Under Devito MPI each rank holds a contiguous block of the points, in rank order.
    """
    data = np.asarray(sparse.data)
    if not configuration["mpi"]:
        return data
    comm = sparse.grid.distributor.comm
    return np.concatenate(comm.allgather(data), axis=1)
