"""Launch shapes shared by the wrappers: grid-stride loops over elements, and feature tiles.

Feature tiles serve the kernels that reduce each column of a row-major (N, C) array over its rows
(BatchNorm's statistics, the bias gradient): a block of (32, R) threads covers 32 neighbouring
features, so each warp reads 32 consecutive values of one row, and its R rows of threads stride
down the batch; the per-column sums meet in shared memory (R · 32 values).
"""

ELEMENTWISE_BLOCK = 256
MAX_ELEMENTWISE_GRID = 8192  # 2M threads, several times what a GPU holds at once; loops cover the rest
TILE_FEATURES = 32
MAX_TILE_ROWS = 32           # 32 × 32 = 1024 threads, CUDA's most per block
ROWS_PER_THREAD = 8


def elementwise(size):
    """``(grid, block)`` for a grid-stride loop over ``size`` ≥ 1 elements."""
    blocks = -(-size // ELEMENTWISE_BLOCK)
    return (min(blocks, MAX_ELEMENTWISE_GRID),), (ELEMENTWISE_BLOCK,)


def tile_rows(n):
    """R: the smallest power of two giving each thread at most 8 of the ``n`` rows, at most 32."""
    rows = 1
    while rows < MAX_TILE_ROWS and rows * ROWS_PER_THREAD < n:
        rows *= 2
    return rows


def feature_tiles(n, c, itemsize):
    """``(grid, block, shared_mem bytes)`` for a column kernel over an (n, c) array of ``itemsize`` bytes."""
    rows = tile_rows(n)
    return (-(-c // TILE_FEATURES),), (TILE_FEATURES, rows), TILE_FEATURES * rows * itemsize
