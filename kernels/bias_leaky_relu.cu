// Fused bias + LeakyReLU over a row-major (N, C) input h (typically h = x @ W from a Dense layer
// without its bias), with bias b (C,) and slope s. The math is minigan/nn/activations.py's
// leaky_relu applied to h + b; the NumPy reference is minigan/cuda/reference.py.
//
// Forward:   v = h + b,   y = v if v > 0 else s · v,   positive = (v > 0)   (saved for backward)
// Backward:  ∂ℓ/∂h = g if positive else s · g,   ∂ℓ/∂b = Σₙ ∂ℓ/∂h
//
// At v = 0 the slope of the negative side is taken, as in minigan and PyTorch. For 0 ≤ s ≤ 1 these
// are bit for bit minigan's max(v, s · v) and g · (s + (1 − s) · [v > 0]).

// Launch: 1-D, any grid and block (grid-stride loop over the N · C elements); no shared memory.
template <typename T>
__global__ void bias_leaky_relu_forward(const T* h, const T* bias, T* y, bool* positive, long long n,
                                        long long c, T slope) {
    const long long size = n * c;
    for (long long i = first_index(); i < size; i += grid_stride()) {
        const T v = h[i] + bias[i % c];
        const bool is_positive = v > (T)0;
        y[i] = is_positive ? v : slope * v;
        positive[i] = is_positive;
    }
}

// Launch: block (32, R), R a power of two; grid (ceil(C / 32)); dynamic shared memory 32 · R values
// of T. threadIdx.x picks one of 32 neighbouring features (coalesced reads of a row), threadIdx.y
// strides over the rows, and the column sum of ∂ℓ/∂h is reduced in shared memory.
template <typename T>
__global__ void bias_leaky_relu_backward(const T* grad_out, const bool* positive, T* grad_h, T* grad_bias,
                                         long long n, long long c, T slope) {
    T* scratch = shared_scratch<T>();
    const long long col = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    const bool active = col < c;

    T sum = 0;
    if (active) {
        for (long long row = threadIdx.y; row < n; row += blockDim.y) {
            const long long i = row * c + col;
            const T g = grad_out[i];
            const T d = positive[i] ? g : g * slope;
            grad_h[i] = d;
            sum += d;
        }
    }
    sum = column_sum(sum, scratch);
    if (active && threadIdx.y == 0) {
        grad_bias[col] = sum;
    }
}
