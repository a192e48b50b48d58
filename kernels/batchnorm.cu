// Fused BatchNorm1d over a row-major (N, C) input: statistics per feature c over the batch axis.
// The math is minigan/nn/batchnorm.py's (PyTorch's); the NumPy reference is
// minigan/cuda/reference.py.
//
// Training forward, per feature, two passes over the column (numerically sound, unlike E[x²] − E[x]²):
//     μ = Σₙ x / N,   σ² = Σₙ (x − μ)² / N   (biased),   1/σ = 1 / √(σ² + ε)
//     y = ((x − μ) · (1/σ)) · γ + β
//     running_mean ← running_mean · (1 − m) + m · μ
//     running_var  ← running_var  · (1 − m) + (m · N / (N − 1)) · σ²      (unbiased σ²)
// Training backward, from g = ∂ℓ/∂y, with x̂ = (x − μ)/σ recomputed from the saved μ and 1/σ:
//     ∂ℓ/∂γ = Σₙ g x̂,   ∂ℓ/∂β = Σₙ g,   ∂ℓ/∂x = (γ / (N σ)) · (N g − Σₙ g − x̂ Σₙ g x̂)
// Evaluation forward, elementwise with the running statistics:
//     y = ((x − running_mean) · (1 / √(running_var + ε))) · γ + β
//
// Training launch (both kernels): block (32, R), R a power of two; grid (ceil(C / 32)); dynamic
// shared memory 32 · R values of T. threadIdx.x picks one of 32 neighbouring features, so each warp
// reads 32 consecutive values of one row (coalesced); threadIdx.y strides over the rows. Every
// thread reaches every column_sum (it synchronises the block): threads past the last feature
// contribute zeros and return only after the last one.

template <typename T>
__global__ void batchnorm_forward_train(const T* x, const T* gamma, const T* beta, T* y, T* mean_out,
                                        T* inv_std_out, T* running_mean, T* running_var, long long n,
                                        long long c, T eps, T keep, T momentum, T var_factor,
                                        int update_running) {
    T* scratch = shared_scratch<T>();
    const long long col = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    const bool active = col < c;

    T sum = 0;
    if (active) {
        for (long long row = threadIdx.y; row < n; row += blockDim.y) {
            sum += x[row * c + col];
        }
    }
    const T mean = column_sum(sum, scratch) / (T)n;

    T squares = 0;
    if (active) {
        for (long long row = threadIdx.y; row < n; row += blockDim.y) {
            const T centered = x[row * c + col] - mean;
            squares += centered * centered;
        }
    }
    const T var = column_sum(squares, scratch) / (T)n;
    if (!active) {
        return;
    }
    const T inv_std = (T)1 / math_sqrt(var + eps);

    const T scale = gamma[col];
    const T shift = beta[col];
    for (long long row = threadIdx.y; row < n; row += blockDim.y) {
        const long long i = row * c + col;
        y[i] = (x[i] - mean) * inv_std * scale + shift;
    }
    if (threadIdx.y == 0) {
        mean_out[col] = mean;
        inv_std_out[col] = inv_std;
        if (update_running) {
            running_mean[col] = running_mean[col] * keep + momentum * mean;
            running_var[col] = running_var[col] * keep + var_factor * var;
        }
    }
}

template <typename T>
__global__ void batchnorm_backward_train(const T* grad_out, const T* x, const T* gamma, const T* mean,
                                         const T* inv_std, T* grad_x, T* grad_gamma, T* grad_beta,
                                         long long n, long long c) {
    T* scratch = shared_scratch<T>();
    const long long col = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    const bool active = col < c;
    const T mu = active ? mean[col] : (T)0;
    const T istd = active ? inv_std[col] : (T)0;

    T sum_g = 0;
    T sum_g_xhat = 0;
    if (active) {
        for (long long row = threadIdx.y; row < n; row += blockDim.y) {
            const long long i = row * c + col;
            const T g = grad_out[i];
            sum_g += g;
            sum_g_xhat += g * ((x[i] - mu) * istd);
        }
    }
    sum_g = column_sum(sum_g, scratch);
    sum_g_xhat = column_sum(sum_g_xhat, scratch);
    if (!active) {
        return;
    }
    if (threadIdx.y == 0) {
        grad_gamma[col] = sum_g_xhat;
        grad_beta[col] = sum_g;
    }
    const T count = (T)n;
    const T scale = gamma[col] * istd / count;
    for (long long row = threadIdx.y; row < n; row += blockDim.y) {
        const long long i = row * c + col;
        const T x_hat = (x[i] - mu) * istd;
        grad_x[i] = scale * (count * grad_out[i] - sum_g - x_hat * sum_g_xhat);
    }
}

// Launch: 1-D, any grid and block (grid-stride loop over the N · C elements); no shared memory.
template <typename T>
__global__ void batchnorm_forward_eval(const T* x, const T* gamma, const T* beta, const T* running_mean,
                                       const T* running_var, T* y, long long n, long long c, T eps) {
    const long long size = n * c;
    for (long long i = first_index(); i < size; i += grid_stride()) {
        const long long col = i % c;
        const T inv_std = (T)1 / math_sqrt(running_var[col] + eps);
        y[i] = (x[i] - running_mean[col]) * inv_std * gamma[col] + beta[col];
    }
}
