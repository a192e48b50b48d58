// Adam and SGD steps over many parameter tensors in one launch (a "multi-tensor apply"): every
// parameter of a model, each with its own gradient and state buffers, updated in place. The update
// rules are minigan/optim.py's, operation for operation (with --fmad=false they round alike); the
// NumPy reference is minigan/cuda/reference.py.
//
// Adam, per element, with g = grad + wd · θ when wd ≠ 0:
//     m ← m · β₁ + (1 − β₁) · g,   v ← v · β₂ + (1 − β₂) · (g · g),   v_max ← max(v_max, v) (amsgrad)
//     θ ← θ − step_size · (m / (√v' / √(1 − β₂ᵗ) + ε)),   v' = v_max with amsgrad, else v,
//     step_size = lr / (1 − β₁ᵗ), computed per tensor on the host (each tensor has its own step t).
// SGD, per element, with g as above:
//     with momentum μ ≠ 0:  b ← b · μ + g,   d = g + μ · b (Nesterov) or b;   without: d = g
//     θ ← θ − lr · d
// A momentum buffer that starts at zero makes the first step b = 0 · μ + g = g, PyTorch's rule.
// Whether amsgrad or momentum is on is told by the table: a pointer of 0 means "no such buffer".
//
// Which tensor a block works on comes from a table of int64 values in device memory, filled on the
// host (K tensors, B blocks):
//     Adam:  [ K θ pointers | K grad | K m | K v | K v_max (0 without amsgrad) | K sizes
//              | B tensor index of each block | B first element of each block ]
//     SGD:   [ K θ pointers | K grad | K momentum buffer (0 without momentum) | K sizes
//              | B tensor index | B first element ]
// Block b updates elements [first, min(first + chunk, size)) of its tensor.
// Launch: grid (B), any 1-D block; no shared memory. Arrays are contiguous.

template <typename T>
__device__ __forceinline__ T* tensor_pointer(long long address) {
    return reinterpret_cast<T*>(static_cast<unsigned long long>(address));
}

template <typename T>
__global__ void adam_multi_tensor(const long long* table, const T* factors, int num_tensors, long long chunk,
                                  T beta1, T one_minus_beta1, T beta2, T one_minus_beta2, T eps,
                                  T weight_decay) {
    const long long k_count = num_tensors;
    const long long k = table[6 * k_count + blockIdx.x];
    const long long first = table[6 * k_count + gridDim.x + blockIdx.x];
    T* param = tensor_pointer<T>(table[k]);
    const T* grad = tensor_pointer<T>(table[k_count + k]);
    T* exp_avg = tensor_pointer<T>(table[2 * k_count + k]);
    T* exp_avg_sq = tensor_pointer<T>(table[3 * k_count + k]);
    T* max_exp_avg_sq = tensor_pointer<T>(table[4 * k_count + k]);
    const long long size = table[5 * k_count + k];
    const long long end = first + chunk < size ? first + chunk : size;
    const T step_size = factors[k];                 // lr / (1 − β₁ᵗ)
    const T bias2_sqrt = factors[k_count + k];      // √(1 − β₂ᵗ)

    for (long long i = first + threadIdx.x; i < end; i += blockDim.x) {
        T g = grad[i];
        if (weight_decay != (T)0) {
            g = g + weight_decay * param[i];
        }
        const T m = exp_avg[i] * beta1 + one_minus_beta1 * g;
        T v = exp_avg_sq[i] * beta2 + one_minus_beta2 * (g * g);
        exp_avg[i] = m;
        exp_avg_sq[i] = v;
        if (max_exp_avg_sq != nullptr) {
            v = nan_max(max_exp_avg_sq[i], v);
            max_exp_avg_sq[i] = v;
        }
        const T denominator = math_sqrt(v) / bias2_sqrt + eps;
        param[i] = param[i] - step_size * (m / denominator);
    }
}

template <typename T>
__global__ void sgd_multi_tensor(const long long* table, int num_tensors, long long chunk, T lr, T momentum,
                                 T weight_decay, int nesterov) {
    const long long k_count = num_tensors;
    const long long k = table[4 * k_count + blockIdx.x];
    const long long first = table[4 * k_count + gridDim.x + blockIdx.x];
    T* param = tensor_pointer<T>(table[k]);
    const T* grad = tensor_pointer<T>(table[k_count + k]);
    T* buffer = tensor_pointer<T>(table[2 * k_count + k]);
    const long long size = table[3 * k_count + k];
    const long long end = first + chunk < size ? first + chunk : size;

    for (long long i = first + threadIdx.x; i < end; i += blockDim.x) {
        T g = grad[i];
        if (weight_decay != (T)0) {
            g = g + weight_decay * param[i];
        }
        if (buffer != nullptr) {
            const T b = buffer[i] * momentum + g;
            buffer[i] = b;
            g = nesterov ? g + momentum * b : b;
        }
        param[i] = param[i] - lr * g;
    }
}
