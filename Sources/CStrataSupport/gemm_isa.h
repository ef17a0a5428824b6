// The GEMM's algorithm (gemm.c explains it), written once and compiled once per instruction set:
// gemm.c includes this file for AVX-512, AVX2 + FMA and portable C after defining
//   ISA(name)          the instruction set's suffix on every function (name_avx512, ...)
//   TARGET             the functions' target attribute (empty for portable C)
//   MR, NR, VL         the micro-kernel's rows and columns, and floats per vector (VL ≤ 16, NR a multiple)
//   EDGE_SMALL, EDGE_LARGE  row counts (< MR, 0: none) of the kernels for a last panel that short
//   SPLIT_EDGE         1: the last MR + 1 or MR + 2 rows run as EDGE_LARGE and the rest (panel_rows)
//   SWAP_M             gemm_swapped for m ≤ SWAP_M (0: never)
//   vec                the vector type; V_ZERO(), V_SET1(x), V_LOAD(p) (aligned to the vector),
//                      V_LOADU(p), V_STORE(p, v), V_STOREU(p, v), V_MUL(a, b), V_FMADD(a, b, c) = a·b + c,
//                      V_MASKZ_LOADU(bits, p) (lanes not in bits are 0 and are not read),
//                      V_MASK_STOREU(bits, p, v) (only the lanes in bits are written)
//   vmask, V_MASK(bits), V_BLEND_LOADU(acc, mask, p): a lane mask and a load of the lanes in it
//                      into acc (others kept); vector paths only
//   ISA(transpose_block)(in, ld, rows, out): out[k·NR + c] = in[c·ld + k] for a VL×VL block,
//                      rows c ≥ rows read as zeros
//   PORTABLE           1 for portable C (whose masked operations are loops anyway: one store path)
// It #undefs all of those at its end. What differs between instruction sets is only that: the micro-kernel's shape, the vector
// operations, the lane masks and the transpose.

// The rows of the row panel that starts at row i of m: MR, and fewer at the end. Where SPLIT_EDGE
// is set, the last MR + 1 or MR + 2 rows make two panels of EDGE_LARGE and the rest, not MR and
// 1 or 2: a kernel of 1 or 2 rows has too few accumulators to cover the FMAs' latency, one of 4
// does (AVX2: M = 32 as 6·4 + 4 + 4, not 6·5 + 2).
static inline long ISA(panel_rows)(long m, long i) {
    long left = m - i;
#if SPLIT_EDGE
    if (left > MR && left <= MR + 2) return EDGE_LARGE;
#endif
    return left < MR ? left : MR;
}

// Ap[panel][k][r] = op(A)[i + r][k0 + k] for all m rows, panel by panel (ISA(panel_rows) rows
// from row i, MR·kc floats each), zero rows past a panel's rows.
static void TARGET ISA(pack_a)(int trans, const strata_matrix *a, long m, long k0, long kc, float *ap, long *offsets) {
    if (!trans) column_offsets(a, k0, kc, offsets);
    for (long i = 0, rows; i < m; i += rows, ap += MR * kc) {
        rows = ISA(panel_rows)(m, i);
        if (!trans) {
            const float *src = a->data + i * a->ld;
            for (long k = 0; k < kc; k += 8) {
#if !PORTABLE
                // 8 k that are contiguous in A: an 8×8 transpose of the panel's rows (zeros past
                // `rows`; MR ≤ 8), each k's MR values stored as 8 floats, in order, so that the
                // 8 − MR past them are overwritten by the next k's (or fall in the buffer's slack).
                if (k + 8 <= kc && offsets[k + 7] == offsets[k] + 7) {
                    __m256 v[8];
#pragma clang loop unroll(full)
                    for (int r = 0; r < 8; r++) v[r] = r < rows ? _mm256_loadu_ps(src + r * a->ld + offsets[k]) : _mm256_setzero_ps();
                    transpose8(v);
#pragma clang loop unroll(full)
                    for (int q = 0; q < 8; q++) _mm256_storeu_ps(ap + (k + q) * MR, v[q]);
                    continue;
                }
#endif
                for (long t = k; t < kc && t < k + 8; t++) {
                    const float *s = src + offsets[t];
                    for (int r = 0; r < MR; r++) ap[t * MR + r] = r < rows ? s[r * a->ld] : 0;
                }
            }
        } else {
            long row_offsets[MR];
            column_offsets(a, i, rows, row_offsets);
            const float *src = a->data + k0 * a->ld;
            if (rows == MR && row_offsets[MR - 1] == row_offsets[0] + MR - 1) {
                for (long k = 0; k < kc; k++) memcpy(ap + k * MR, src + k * a->ld + row_offsets[0], MR * sizeof(float));
            } else {
                for (long k = 0; k < kc; k++) {
                    const float *s = src + k * a->ld;
                    for (int r = 0; r < MR; r++) ap[k * MR + r] = r < rows ? s[row_offsets[r]] : 0;
                }
            }
        }
    }
}

// Where a panel's columns j ..< j + cols of a matrix with grouped columns lie: runs that are
// contiguous there, run q being columns start[q] ..< start[q + 1] at offsets[start[q]] from a row's start.
typedef struct { int runs; long start[NR + 1], offsets[NR]; } ISA(column_runs);

static void ISA(find_column_runs)(const strata_matrix *c, long j, int cols, ISA(column_runs) *out) {
    column_offsets(c, j, cols, out->offsets);
    out->runs = 0;
    for (long t = 0; t < cols; t++)
        if (t == 0 || out->offsets[t] != out->offsets[t - 1] + 1) out->start[out->runs++] = t;
    out->start[out->runs] = cols;
}

// Bp[panel][k][c] = op(B)[k0 + k][j0 + panel·NR + c] for n columns, zero columns past n. When
// trans, offsets[k] = column_offset(b, k0 + k) (the caller computes them once per K block).
static void TARGET ISA(pack_b)(int trans, const strata_matrix *b, long k0, long kc, long j0, long n, float *bp, const long *offsets) {
    for (long j = 0; j < n; j += NR, bp += NR * kc) {
        long cols = n - j < NR ? n - j : NR;
        if (!trans) {
            // Runs of columns that are contiguous in memory, each copied as one stretch per row.
            ISA(column_runs) p;
            ISA(find_column_runs)(b, j0 + j, (int)cols, &p);
            const float *src = b->data + k0 * b->ld;
            if (p.runs == 1 && cols == NR) {
                for (long k = 0; k < kc; k++) {
                    const float *row = src + k * b->ld + p.offsets[0];
                    for (int v = 0; v < NR; v += VL) V_STORE(bp + k * NR + v, V_LOADU(row + v));
                }
                continue;
            }
            for (long k = 0; k < kc; k++) {
                const float *row = src + k * b->ld;
                float *out = bp + k * NR;
                for (int r = 0; r < p.runs; r++) {
                    const float *from = row + p.offsets[p.start[r]];
                    for (long t = p.start[r]; t < p.start[r + 1]; t++) out[t] = *from++;
                }
                for (long t = cols; t < NR; t++) out[t] = 0;
            }
        } else {
            const float *src = b->data + (j0 + j) * b->ld;
            long k = 0;
            // Blocks of VL k along a contiguous stretch: VL×VL transposes in registers.
            for (; k + VL <= kc; k += VL) {
                if (offsets[k + VL - 1] != offsets[k] + VL - 1) break;
                for (long c = 0; c < NR; c += VL) ISA(transpose_block)(src + c * b->ld + offsets[k], b->ld, cols - c, bp + k * NR + c);
            }
            for (long c = 0; c < cols; c++) {
                const float *s = src + c * b->ld;
                for (long t = k; t < kc; t++) bp[t * NR + c] = s[offsets[t]];
            }
            for (long c = cols; c < NR; c++)
                for (long t = k; t < kc; t++) bp[t * NR + c] = 0;
        }
    }
}

// C[rows × cols] = alpha·(A panel · Bp panel) + beta·C (C not read when beta is 0), for the first
// R ≤ MR rows of the panel (rows ≤ R): R rows of NR/VL vectors of accumulators, one broadcast of A
// and NR/VL loads of B per k. Inlined with R and `place` constants. The A panel is
//   place A_PACKED:     packed, A(r, k) = ap[k·MR + r];
//   place A_ROWS:       read in place from a row-major op(A), A(r, k) = ap[r·lda + k].
// In place, rows past `rows` read row 0 again (their sums are not stored): nothing past m is read.
// The B panel is packed, Bp(k, c) = bp[k·NR + c]; or, `fused`, read from a plain matrix,
// B(k, c) = bsrc[k·ldb + c] (all NR columns there), and stored into bp as it is read.
static inline __attribute__((always_inline)) void TARGET ISA(kernel_rows)(const int R, const int place, const int fused, long kc,
                                                                          const float *ap, long lda, float *bp, const float *bsrc,
                                                                          long ldb, float *c, long ldc, float alpha, float beta,
                                                                          int rows, int cols) {
    vec acc[MR][NR / VL];
    const float *arow[MR];
    if (place == A_ROWS) {
#pragma clang loop unroll(full)
        for (int r = 0; r < R; r++) arow[r] = ap + (r < rows ? r : 0) * lda;
    }
#if !PORTABLE
    // C's tile is read (beta ≠ 0) and written only after the K loop, usually from L2 or L3 (C is
    // revisited once per K block): fetch its lines now, while the loop runs.
#pragma clang loop unroll(full)
    for (int r = 0; r < R; r++) {
        if (r < rows) {
#pragma clang loop unroll(full)
            for (int v = 0; v < NR; v += 16) _mm_prefetch((const char *)(c + r * ldc + v), _MM_HINT_T0);
            _mm_prefetch((const char *)(c + r * ldc + NR - 1), _MM_HINT_T0);
        }
    }
#endif
#pragma clang loop unroll(full)
    for (int r = 0; r < R; r++)
#pragma clang loop unroll(full)
        for (int v = 0; v < NR / VL; v++) acc[r][v] = V_ZERO();
    for (long k = 0; k < kc; k++) {
        vec bv[NR / VL];
        if (fused) {
#if !PORTABLE
            // The next panel's columns of this row, into L2 for its own packing call: rows of a
            // plain B are far apart, and that call could not hide their latency.
#pragma clang loop unroll(full)
            for (int v = NR; v < 2 * NR; v += 16) _mm_prefetch((const char *)(bsrc + v), _MM_HINT_T1);
            _mm_prefetch((const char *)(bsrc + 2 * NR - 1), _MM_HINT_T1);
#endif
#pragma clang loop unroll(full)
            for (int v = 0; v < NR / VL; v++) {
                bv[v] = V_LOADU(bsrc + v * VL);
                V_STORE(bp + v * VL, bv[v]);
            }
            bsrc += ldb;
        } else {
#pragma clang loop unroll(full)
            for (int v = 0; v < NR / VL; v++) bv[v] = V_LOAD(bp + v * VL);
        }
#pragma clang loop unroll(full)
        for (int r = 0; r < R; r++) {
            vec a = V_SET1(place == A_ROWS ? arow[r][k] : ap[r]);
#pragma clang loop unroll(full)
            for (int v = 0; v < NR / VL; v++) acc[r][v] = V_FMADD(a, bv[v], acc[r][v]);
        }
        ap += MR;
        bp += NR;
    }
    vec va = V_SET1(alpha), vb = V_SET1(beta);
#if !PORTABLE
    if (cols == NR) {
        // Whole rows: plain stores (masked stores are microcoded and slow on some CPUs, AMD's AVX2).
#pragma clang loop unroll(full)
        for (int r = 0; r < R; r++) {
            if (r < rows) {
                float *row = c + r * ldc;
#pragma clang loop unroll(full)
                for (int v = 0; v < NR / VL; v++) {
                    vec x = V_MUL(va, acc[r][v]);
                    if (beta != 0) x = V_FMADD(vb, V_LOADU(row + v * VL), x);
                    V_STOREU(row + v * VL, x);
                }
            }
        }
        return;
    }
#endif
    unsigned masks[NR / VL];
    for (int v = 0; v < NR / VL; v++) masks[v] = strata_bits(0, cols - v * VL, VL);
#pragma clang loop unroll(full)
    for (int r = 0; r < R; r++) {
        if (r < rows) {
            float *row = c + r * ldc;
#pragma clang loop unroll(full)
            for (int v = 0; v < NR / VL; v++) {
                vec x = V_MUL(va, acc[r][v]);
                if (beta != 0) x = V_FMADD(vb, V_MASKZ_LOADU(masks[v], row + v * VL), x);
                V_MASK_STOREU(masks[v], row + v * VL, x);
            }
        }
    }
}

// The micro-kernel for a panel of `rows` rows. A panel's last rows are zero padding when m is not a
// multiple of MR; where EDGE_SMALL / EDGE_LARGE (< MR, 0: none) are set, a panel of that few rows
// runs a kernel of that many rows instead of computing the padding (the mini net's 64 filters: 10
// panels of 6 and one of 4, not 11 of 6).
static __attribute__((noinline)) void TARGET ISA(kernel)(long kc, const float *ap, const float *bp, float *c, long ldc,
                               float alpha, float beta, int rows, int cols) {
    float *b = (float *)bp;
#if EDGE_SMALL
    if (rows <= EDGE_SMALL) { ISA(kernel_rows)(EDGE_SMALL, A_PACKED, 0, kc, ap, 0, b, NULL, 0, c, ldc, alpha, beta, rows, cols); return; }
#endif
#if EDGE_LARGE
    if (rows <= EDGE_LARGE) { ISA(kernel_rows)(EDGE_LARGE, A_PACKED, 0, kc, ap, 0, b, NULL, 0, c, ldc, alpha, beta, rows, cols); return; }
#endif
    ISA(kernel_rows)(MR, A_PACKED, 0, kc, ap, 0, b, NULL, 0, c, ldc, alpha, beta, rows, cols);
}

// The same, packing the B panel as it goes (fused): the first row panel's call for each B panel,
// whose packed copy the other calls read.
static __attribute__((noinline)) void TARGET ISA(kernel_packing)(long kc, const float *ap, float *bp, const float *bsrc, long ldb, float *c, long ldc,
                                       float alpha, float beta, int rows, int cols) {
#if EDGE_SMALL
    if (rows <= EDGE_SMALL) { ISA(kernel_rows)(EDGE_SMALL, A_PACKED, 1, kc, ap, 0, bp, bsrc, ldb, c, ldc, alpha, beta, rows, cols); return; }
#endif
#if EDGE_LARGE
    if (rows <= EDGE_LARGE) { ISA(kernel_rows)(EDGE_LARGE, A_PACKED, 1, kc, ap, 0, bp, bsrc, ldb, c, ldc, alpha, beta, rows, cols); return; }
#endif
    ISA(kernel_rows)(MR, A_PACKED, 1, kc, ap, 0, bp, bsrc, ldb, c, ldc, alpha, beta, rows, cols);
}

// The same with A's rows read in place (lda apart): gemm_swapped.
static __attribute__((noinline)) void TARGET ISA(kernel_in_place)(long kc, const float *a, long lda, const float *bp, float *c, long ldc,
                                                                  float alpha, float beta, int rows, int cols) {
    ISA(kernel_rows)(MR, A_ROWS, 0, kc, a, lda, (float *)bp, NULL, 0, c, ldc, alpha, beta, rows, cols);
}

// Writes the first `rows` rows of an MR×NR tile computed with alpha applied and beta 0 (tile, row
// stride NR) into C's grouped columns (runs from find_column_runs) from row i, applying beta:
// whole vectors along each run, then its last few floats one by one.
static void TARGET ISA(scatter)(const float *tile, const strata_matrix *c, const ISA(column_runs) *p, long i, int rows, float beta) {
    vec vb = V_SET1(beta);
    for (int r = 0; r < rows; r++) {
        float *row = c->data + (i + r) * c->ld;
        const float *in = tile + r * NR;
        for (int q = 0; q < p->runs; q++) {
            long first = p->start[q], count = p->start[q + 1] - first, t = 0;
            float *out = row + p->offsets[first];
            const float *from = in + first;
            if (beta == 0) {
                for (; t + VL <= count; t += VL) V_STOREU(out + t, V_LOADU(from + t));
                for (; t < count; t++) out[t] = from[t];
            } else {
                for (; t + VL <= count; t += VL) V_STOREU(out + t, V_FMADD(vb, V_LOADU(out + t), V_LOADU(from + t)));
                for (; t < count; t++) out[t] = from[t] + beta * out[t];
            }
        }
    }
}

// Writes the transpose of an MR×NR tile (alpha applied, beta 0; row stride NR) into C: tile element
// (r, t) goes to C(i + t, j + r), applying beta.
static void TARGET ISA(scatter_transposed)(const float *tile, const strata_matrix *c, long i, long j, int rows, int cols, float beta) {
    long offsets[MR];
    column_offsets(c, j, rows, offsets);
    for (int t = 0; t < cols; t++) {
        float *row = c->data + (i + t) * c->ld;
        for (int r = 0; r < rows; r++) {
            float *out = row + offsets[r];
            *out = beta == 0 ? tile[r * NR + t] : tile[r * NR + t] + beta * *out;
        }
    }
}

// C = alpha·op(A)·Bᵀ + beta·C for few rows (m ≤ SWAP_M) and B a plain n×k matrix, computed as
// Cᵀ = B·op(A)ᵀ: the micro-kernel reads B's rows in place as its A operand, op(A)ᵀ is packed as
// its B, and the tiles are written back transposed. At m = 32 (the fc layers at batch 32) each
// packed B panel would serve only ⌈m/MR⌉ kernel calls, so transposing B (the weights) into panels
// costs about what the multiply's own loads of it do, and that pass cannot overlap the FMAs (an
// untransposed B is packed by the kernel itself: kernel_packing); read in place, the weights
// stream while they run.
static int TARGET ISA(gemm_swapped)(int trans_a, long m, long n, long k, float alpha, const strata_matrix *a,
                                    const strata_matrix *b, float beta, const strata_matrix *c,
                                    PackBuffers *buffers, long *offsets, long kblock) {
    float tile[MR * NR] __attribute__((aligned(64)));
    for (long pc = 0; pc < k; pc += kblock) {
        long kc = k - pc < kblock ? k - pc : kblock;
        float b0 = pc == 0 ? beta : 1;
        // op(A)ᵀ's block (kc rows × m columns): op(A)ᵀ is A when trans_a, else Aᵀ.
        float *bp = grow(&buffers->b, &buffers->nb, (size_t)((m + NR - 1) / NR * NR * kc + 16));
        if (!bp) return -1;
        if (!trans_a) column_offsets(a, pc, kc, offsets);
        ISA(pack_b)(!trans_a, a, pc, kc, 0, m, bp, offsets);
        for (long i = 0; i < n; i += MR) {
            int rows = n - i < MR ? (int)(n - i) : MR;
            const float *ai = b->data + i * b->ld + pc;
            for (long j = 0; j < m; j += NR) {
                int cols = m - j < NR ? (int)(m - j) : NR;
                ISA(kernel_in_place)(kc, ai, b->ld, bp + j * kc, tile, NR, alpha, 0, rows, cols);
                ISA(scatter_transposed)(tile, c, j, i, rows, cols, b0);
            }
        }
    }
    return 0;
}


// Rows of one panel of a convolution packer: Bp[kk][col[r] + t] = x[offsets[kk] + base[r] + t]
// for each of R runs r, as whole vectors (t < VL), then zeros in the columns from `cols` to NR; row
// by row and run by run in order, so that each overhang is overwritten by the next run or row. The
// buffer has 16 floats of slack after the last row (VL ≤ 16). Inlined with R constant: the runs'
// columns and bases stay in registers, and no store is wasted (the copy is bound by its stores).
static inline __attribute__((always_inline)) void TARGET ISA(copy_runs)(const int R, const float *x, const long *offsets, long kc,
                                                                        const int *col, const long *base, int cols, float *bp) {
    const float *from[NR];
    int to[NR];
#pragma clang loop unroll(full)
    for (int r = 0; r < R; r++) { from[r] = x + base[r]; to[r] = col[r]; }
    for (long kk = 0; kk < kc; kk++) {
        float *row = bp + kk * NR;
        long o = offsets[kk];
#pragma clang loop unroll(full)
        for (int r = 0; r < R; r++) V_STOREU(row + to[r], V_LOADU(from[r] + o));
        if (cols < NR) for (int c = cols; c < NR; c += VL) V_STOREU(row + c, V_ZERO());
    }
}

#if !PORTABLE
// Rows of a full convolution panel, each vector v assembled from P pieces: its lanes in
// masks[v][p] come from x[offsets[kk] + from[v][p] + lane], the first piece's load providing
// all lanes the others do not overwrite; then one aligned store per vector. The loads read up to
// VL − 1 floats before or after a run (padded_input leaves 16 floats of slack on each side).
static inline __attribute__((always_inline)) void TARGET ISA(copy_pieces)(const int P, const float *x, const long *offsets, long kc,
                                                                          long from[NR / VL][8], vmask masks[NR / VL][8], float *bp) {
    for (long kk = 0; kk < kc; kk++) {
        float *row = bp + kk * NR;
        const float *src = x + offsets[kk];
#pragma clang loop unroll(full)
        for (int v = 0; v < NR / VL; v++) {
            vec acc = V_LOADU(src + from[v][0]);
#pragma clang loop unroll(full)
            for (int p = 1; p < P; p++) acc = V_BLEND_LOADU(acc, masks[v][p], src + from[v][p]);
            V_STORE(row + v * VL, acc);
        }
    }
}
#endif

// A panel of a convolution's im2col matrix, packed: Bp[kk][c] = col[k0 + kk][j0 + c] for c < n ≤ NR,
// offsets from conv_row_offsets (k0, kc). Col's row e is (channel, window row i, window column jj)
// and its column q is (image, oy, ox). Or (trans, stride 1) its transpose, Bp[kk][c] =
// col[j0 + c][k0 + kk], offsets from conv_position_offsets: the GEMM's K runs over positions and
// its N over col's rows. The input is padded and split into column phases (padded_input: ph = pw
// = 0). The panel's columns fall into runs of at most VL that are contiguous in the input: im2col
// columns that share an image and an output row, or transposed rows that share a channel and a
// window row (at most kw long); each run of each row is one whole-vector load and store.
static void TARGET ISA(pack_b_conv)(const strata_conv_input *in, int trans, const long *offsets, long kc, long j0, int n, float *bp) {
    const long positions = (long)in->oh * in->ow, plane = (long)in->h * in->w;
    const int window = in->kh * in->kw;
    int col[NR], runs = 0;
    long base[NR];
    for (int c = 0; c < n;) {
        long q = j0 + c;
        int len;
        if (!trans) {
            long image = q / positions, within = q % positions;
            int oy = (int)(within / in->ow), ox = (int)(within % in->ow);
            len = in->ow - ox;
            base[runs] = image * in->image_stride + (long)oy * in->sh * in->w + ox;
        } else {
            int ci = (int)(q / window), i = (int)(q % window) / in->kw, jj = (int)(q % window) % in->kw;
            len = in->kw - jj;
            base[runs] = ci * plane + (long)i * in->w + jj;
        }
        if (len > n - c) len = n - c;
        if (len > VL) len = VL;
        col[runs++] = c;
        c += len;
    }
#if !PORTABLE
    // A full panel: each vector of it assembled in a register from the pieces (up to 8: AVX-512's
    // 16 lanes over a 3×3 filter gradient's 3-wide runs take 6) of the runs that fall in it,
    // then one aligned store (the run-by-run copy below stores each run, across line
    // boundaries, and is bound by its stores: about twice the time).
    if (n == NR) {
        long from[NR / VL][8];
        vmask masks[NR / VL][8];
        int most = 0;
        for (int v = 0, r = 0; v < NR / VL; v++) {
            // The runs that overlap columns [v·VL, v·VL + VL): r is the first, starting at or before v·VL.
            while (r + 1 < runs && col[r + 1] <= v * VL) r++;
            int pieces = 0;
            for (int q = r; q < runs && col[q] < (v + 1) * VL; q++, pieces++) {
                if (pieces == 8) { most = 9; break; }
                int end = q + 1 < runs ? col[q + 1] : n;
                // Lanes col[q] − v·VL ..< end − v·VL from this run: it starts v·VL − col[q] floats
                // before the vector (a negative offset: lanes before the run are blended away).
                from[v][pieces] = base[q] + v * VL - col[q];
                masks[v][pieces] = V_MASK(strata_bits(col[q] - v * VL, end - v * VL, VL));
            }
            // Short of the most pieces, the last is repeated (blending it twice changes nothing).
            for (int q = pieces; q < 8; q++) { from[v][q] = from[v][pieces - 1]; masks[v][q] = masks[v][pieces - 1]; }
            if (pieces > most) most = pieces;
        }
        switch (most) {
        case 1: ISA(copy_pieces)(1, in->x, offsets, kc, from, masks, bp); return;
        case 2: ISA(copy_pieces)(2, in->x, offsets, kc, from, masks, bp); return;
        case 3: ISA(copy_pieces)(3, in->x, offsets, kc, from, masks, bp); return;
        case 4: ISA(copy_pieces)(4, in->x, offsets, kc, from, masks, bp); return;
        case 5: case 6: ISA(copy_pieces)(6, in->x, offsets, kc, from, masks, bp); return;
        case 7: case 8: ISA(copy_pieces)(8, in->x, offsets, kc, from, masks, bp); return;
        default: break;
        }
    }
#endif
    switch (runs) {
    case 1: ISA(copy_runs)(1, in->x, offsets, kc, col, base, n, bp); break;
    case 2: ISA(copy_runs)(2, in->x, offsets, kc, col, base, n, bp); break;
    case 3: ISA(copy_runs)(3, in->x, offsets, kc, col, base, n, bp); break;
    case 4: ISA(copy_runs)(4, in->x, offsets, kc, col, base, n, bp); break;
    default: {
        for (long kk = 0; kk < kc; kk++) {
            float *row = bp + kk * NR;
            const float *src = in->x + offsets[kk];
            for (int r = 0; r < runs; r++) V_STOREU(row + col[r], V_LOADU(src + base[r]));
            if (n < NR) for (int c = n; c < NR; c += VL) V_STOREU(row + c, V_ZERO());
        }
    }
    }
}

static int ISA(gemm)(int trans_a, long m, long n, long k, float alpha, const strata_matrix *a, BSource b,
                float beta, const strata_matrix *c) {
    if (m <= 0 || n <= 0) return 0;
    if (k <= 0 || alpha == 0) {
        long offsets[NR];
        for (long j = 0; j < n; j += NR) {
            long cols = n - j < NR ? n - j : NR;
            column_offsets(c, j, cols, offsets);
            for (long i = 0; i < m; i++)
                for (long t = 0; t < cols; t++) {
                    float *out = c->data + i * c->ld + offsets[t];
                    *out = beta == 0 ? 0 : beta * *out;
                }
        }
        return 0;
    }
    PackBuffers *buffers = thread_buffers();
    if (!buffers) return -1;
    strata_conv_input padded;
    if (b.conv) {
        if (padded_input(b.conv, buffers, &padded)) return -1;
        b.conv = &padded;
    }
    long offsets[KC];
    float tile[MR * NR] __attribute__((aligned(64)));
    long mp = (m + MR - 1) / MR * MR;
    // K in equal blocks of at most KC (1200 = 4 × 300, not 3 × 384 + 48: a thin last block spends
    // as long loading and storing C as multiplying).
    long kblock = (k + (k + KC - 1) / KC - 1) / ((k + KC - 1) / KC);
    if (m <= SWAP_M && n >= 4 * m && !b.conv && !b.matrix->group && b.trans)
        return ISA(gemm_swapped)(trans_a, m, n, k, alpha, a, b.matrix, beta, c, buffers, offsets, kblock);
    // One B panel at a time, packed into the same buffer each time (it stays in L1), just before
    // the kernel runs it against every row panel of A. 16 floats of slack: the convolution
    // packers store whole vectors past a panel's last row.
    float *bp = grow(&buffers->b, &buffers->nb, (size_t)(NR * kblock + 16));
    float *ap = grow(&buffers->a, &buffers->na, (size_t)(mp * kblock + 8));  // pack_a stores 8 floats per k
    if (!bp || !ap) return -1;
    // A plain B is packed by the first row panel's kernel call (fused, kernel_packing).
    int fused = !b.conv && !b.trans && !b.matrix->group;
    ISA(column_runs) column_runs;
    for (long pc = 0; pc < k; pc += kblock) {
        long kc = k - pc < kblock ? k - pc : kblock;
        float b0 = pc == 0 ? beta : 1;
        ISA(pack_a)(trans_a, a, m, pc, kc, ap, offsets);
        // Where each of the block's K rows of op(B) starts: in the convolution's input, or along
        // a transposed B's stored rows.
        if (b.conv && !b.trans) conv_row_offsets(b.conv, pc, kc, offsets);
        else if (b.conv) conv_position_offsets(b.conv, pc, kc, offsets);
        else if (b.trans) column_offsets(b.matrix, pc, kc, offsets);
        for (long j = 0; j < n; j += NR) {
            int cols = n - j < NR ? (int)(n - j) : NR;
            const float *bsrc = NULL;
            if (b.conv) ISA(pack_b_conv)(b.conv, b.trans, offsets, kc, j, cols, bp);
            else if (fused && cols == NR) bsrc = b.matrix->data + pc * b.matrix->ld + j;
            else ISA(pack_b)(b.trans, b.matrix, pc, kc, j, cols, bp, offsets);
            // The panel's columns are contiguous in C unless they cross a group boundary.
            int direct = !c->group || j / c->group == (j + cols - 1) / c->group;
            if (!direct) ISA(find_column_runs)(c, j, cols, &column_runs);
            float *cj = c->data + column_offset(c, j);
            for (long i = 0, rows, panel = 0; i < m; i += rows, panel++) {
                rows = ISA(panel_rows)(m, i);
                const float *ai = ap + panel * MR * kc;
                // Straight into C, or into a tile scattered into C's groups.
                float *out = direct ? cj + i * c->ld : tile;
                long ldo = direct ? c->ld : NR;
                float bo = direct ? b0 : 0;
                if (bsrc) ISA(kernel_packing)(kc, ai, bp, bsrc, b.matrix->ld, out, ldo, alpha, bo, (int)rows, cols);
                else ISA(kernel)(kc, ai, bp, out, ldo, alpha, bo, (int)rows, cols);
                bsrc = NULL;
                if (!direct) ISA(scatter)(tile, c, &column_runs, i, (int)rows, b0);
            }
        }
    }
    return 0;
}

#undef ISA
#undef TARGET
#undef PORTABLE
#undef MR
#undef SWAP_M
#undef EDGE_SMALL
#undef EDGE_LARGE
#undef SPLIT_EDGE
#undef NR
#undef VL
#undef vec
#undef V_ZERO
#undef V_SET1
#undef V_LOAD
#undef V_LOADU
#undef V_STORE
#undef V_STOREU
#undef V_MUL
#undef V_FMADD
#undef V_MASKZ_LOADU
#undef V_MASK_STOREU
#undef vmask
#undef V_MASK
#undef V_BLEND_LOADU
