"""The Numba CPU backend as a package: :class:`~.backend.NumbaBackend` and its compiled kernels.

=================  ==================================================================
``_jit``           the jit options, activation codes and layout arrays every kernel shares
``intrinsics``     LLVM intrinsics: float bits, the atomic task counter
``activations``    activations and their derivatives on flat arrays
``simd``           register-blocked vector products (LLVM vector code)
``tiles``          the products, sums and losses on tiles of 64 samples
``mlp_layers``     LayerNorm, cosine and RBF layers on tiles
``mlp_kernels``    the fused MLP kernels (forward, loss, loss and gradient per member)
``mlp``            MLPs on those kernels, the Numba module of the kind ``"mlp"``
``weightnorm``     WeightNorm MLPs on those kernels, by their effective weights
``rnn_tiles``      the recurrent products and readouts on tiles
``rnn_cells``      Elman, LSTM and GRU cells forward and backward
``rnn_kernels``    the fused recurrent kernels
``rnn``            recurrent nets on those kernels, the Numba module of the kind ``"rnn"``
``readout``        the readout hybrid's ridge solves
``fused``          the GA's, PSO's and CMA-ES's per-population updates
``pool``           the task pool that runs a kernel on ``n_jobs`` threads
``tuner``          one thread or ``n_jobs``: learned from the timings of earlier calls
``backend``        :class:`NumbaBackend`: threads, and each net to its kind's module
=================  ==================================================================
"""
