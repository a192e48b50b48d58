// Fused sigmoid + binary cross-entropy on logits z (any shape, n elements, contiguous), reduced to
// one number: the mean (divisor n) or the sum (divisor 1) over every element. Targets t are an array
// shaped like z, or one number for all (the *_scalar kernels: no array of n copies is made).
// The math is minigan/nn/losses.py's binary_cross_entropy_with_logits; the NumPy reference is
// minigan/cuda/reference.py.
//
// Forward, in the stable form (finite for any z):
//     ℓᵢ = max(zᵢ, 0) − zᵢ tᵢ + log(1 + e^(−|zᵢ|)),   L = Σᵢ ℓᵢ / divisor
// Backward, from the upstream gradient G = ∂loss/∂L (a device scalar, read on the device):
//     ∂loss/∂zᵢ = (G / divisor) · (σ(zᵢ) − tᵢ),
//     σ(z) = 1 / (1 + e^(−z)) for z ≥ 0, e^z / (1 + e^z) otherwise (no exp overflows).
//
// Forward launch: block (B) with B a power of two, grid (P), dynamic shared memory B values of T.
// Each block writes the sum of its grid-stride share, divided by `divisor`, to partials[blockIdx.x].
// With P = 1 that is the loss; otherwise sum_partials (one block) adds the P partials in a fixed
// order and divides: the result does not depend on timing, unlike atomics.

template <typename T>
struct ArrayTarget {
    const T* values;
    __device__ T operator()(long long i) const { return values[i]; }
};

template <typename T>
struct ScalarTarget {
    T value;
    __device__ T operator()(long long) const { return value; }
};

template <typename T, typename Target>
__device__ void bce_partial_sums(const T* z, Target target, T* partials, long long n, T divisor) {
    T sum = 0;
    for (long long i = first_index(); i < n; i += grid_stride()) {
        const T v = z[i];
        const T positive_part = v > (T)0 ? v : (T)0;
        sum += positive_part - v * target(i) + math_log1p(math_exp(-math_abs(v)));
    }
    sum = block_sum(sum, shared_scratch<T>());
    if (threadIdx.x == 0) {
        partials[blockIdx.x] = sum / divisor;
    }
}

template <typename T, typename Target>
__device__ void bce_gradient(const T* z, Target target, const T* grad_loss, T* grad_z, long long n,
                             T divisor) {
    const T scale = grad_loss[0] / divisor;
    for (long long i = first_index(); i < n; i += grid_stride()) {
        const T v = z[i];
        const T e = math_exp(-math_abs(v));
        const T sigmoid = v >= (T)0 ? (T)1 / ((T)1 + e) : e / ((T)1 + e);
        grad_z[i] = scale * (sigmoid - target(i));
    }
}

template <typename T>
__global__ void bce_with_logits_forward(const T* z, const T* t, T* partials, long long n, T divisor) {
    bce_partial_sums(z, ArrayTarget<T>{t}, partials, n, divisor);
}

template <typename T>
__global__ void bce_with_logits_forward_scalar(const T* z, T t, T* partials, long long n, T divisor) {
    bce_partial_sums(z, ScalarTarget<T>{t}, partials, n, divisor);
}

// Launch: 1-D, any grid and block (grid-stride loop over the n elements); no shared memory.
template <typename T>
__global__ void bce_with_logits_backward(const T* z, const T* t, const T* grad_loss, T* grad_z, long long n,
                                         T divisor) {
    bce_gradient(z, ArrayTarget<T>{t}, grad_loss, grad_z, n, divisor);
}

template <typename T>
__global__ void bce_with_logits_backward_scalar(const T* z, T t, const T* grad_loss, T* grad_z, long long n,
                                                T divisor) {
    bce_gradient(z, ScalarTarget<T>{t}, grad_loss, grad_z, n, divisor);
}

// Launch: one block of B threads (B a power of two), dynamic shared memory B values of T.
// out[0] = (Σ partials) / divisor.
template <typename T>
__global__ void sum_partials(const T* partials, T* out, long long count, T divisor) {
    T sum = 0;
    for (long long i = threadIdx.x; i < count; i += blockDim.x) {
        sum += partials[i];
    }
    sum = block_sum(sum, shared_scratch<T>());
    if (threadIdx.x == 0) {
        out[0] = sum / divisor;
    }
}
