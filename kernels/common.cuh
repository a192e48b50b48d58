// What every kernel source shares. The loader (minigan/cuda/loader.py) compiles each source as this
// file followed by the source, so nothing here is #included by name.
//
// Templates take T = float or double. The overloads below let one template body call the float or
// double version of a math function without relying on the CUDA headers' C++ overloads.
//
// The kernels are compiled with --fmad=false: a * b + c is then two IEEE operations, rounded twice,
// exactly as NumPy/CuPy evaluate the same expression one array operation at a time. So an
// elementwise kernel gives the same bits as minigan's unfused code, and kernels on and off differ
// only where a sum is reduced in another order.

__device__ __forceinline__ float math_exp(float v) { return expf(v); }
__device__ __forceinline__ double math_exp(double v) { return exp(v); }
__device__ __forceinline__ float math_log1p(float v) { return log1pf(v); }
__device__ __forceinline__ double math_log1p(double v) { return log1p(v); }
__device__ __forceinline__ float math_sqrt(float v) { return sqrtf(v); }
__device__ __forceinline__ double math_sqrt(double v) { return sqrt(v); }
__device__ __forceinline__ float math_abs(float v) { return fabsf(v); }
__device__ __forceinline__ double math_abs(double v) { return fabs(v); }

// max(a, b) that returns NaN when either is NaN, as numpy.maximum does (fmax would drop the NaN).
template <typename T>
__device__ __forceinline__ T nan_max(T a, T b) {
    return (a > b || a != a) ? a : b;
}

// Dynamic shared memory, sized by the launch. An `extern __shared__ T name[]` inside a template
// cannot be redeclared with another T, hence one byte array cast to each kernel's type.
extern __shared__ __align__(16) unsigned char shared_bytes[];

template <typename T>
__device__ __forceinline__ T* shared_scratch() {
    return reinterpret_cast<T*>(shared_bytes);
}

// Adds `value` over `count` threads (count a power of two) whose slots in `scratch` are
// base, base + step, ..., base + (count - 1) * step; `rank` is the calling thread's place among them.
// A fixed pairwise tree: the same inputs give the same bits on every run. Every thread of the block
// must call it (it synchronises); each of the `count` threads gets the total.
template <typename A>
__device__ A tree_sum(A value, A* scratch, int rank, int count, int base, int step) {
    scratch[base + rank * step] = value;
    __syncthreads();
    for (int half = count / 2; half > 0; half /= 2) {
        if (rank < half) {
            scratch[base + rank * step] += scratch[base + (rank + half) * step];
        }
        __syncthreads();
    }
    const A total = scratch[base];
    __syncthreads();  // the scratch can be reused once every thread has read the total
    return total;
}

// The sum of `value` over the threads of this thread's column (same threadIdx.x) of a
// (blockDim.x, blockDim.y) block; `scratch` holds blockDim.x * blockDim.y values.
template <typename A>
__device__ A column_sum(A value, A* scratch) {
    return tree_sum(value, scratch, (int)threadIdx.y, (int)blockDim.y, (int)threadIdx.x, (int)blockDim.x);
}

// The sum of `value` over all threads of a 1-D block; `scratch` holds blockDim.x values.
template <typename A>
__device__ A block_sum(A value, A* scratch) {
    return tree_sum(value, scratch, (int)threadIdx.x, (int)blockDim.x, 0, 1);
}

// Grid-stride loop bounds for elementwise kernels over `size` elements.
__device__ __forceinline__ long long first_index() {
    return (long long)blockIdx.x * blockDim.x + threadIdx.x;
}

__device__ __forceinline__ long long grid_stride() {
    return (long long)gridDim.x * blockDim.x;
}
