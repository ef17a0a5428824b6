// MPI (Open MPI; Debian: libopenmpi-dev, openmpi-bin; pkg-config: ompi-c). Open MPI's handles
// (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM) are macros Swift cannot import, so the calls Strata makes are
// wrapped here with plain C types: every collective is on MPI_COMM_WORLD and returns MPI's error code.
#include <mpi.h>

static inline int strata_mpi_initialized(void) { int flag = 0; MPI_Initialized(&flag); return flag; }
static inline int strata_mpi_init(void) { int provided = 0; return MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided); }
static inline int strata_mpi_finalize(void) { return MPI_Finalize(); }
static inline int strata_mpi_rank(void) { int r = 0; MPI_Comm_rank(MPI_COMM_WORLD, &r); return r; }
static inline int strata_mpi_size(void) { int s = 1; MPI_Comm_size(MPI_COMM_WORLD, &s); return s; }
static inline int strata_mpi_abort(int code) { return MPI_Abort(MPI_COMM_WORLD, code); }
static inline int strata_mpi_barrier(void) { return MPI_Barrier(MPI_COMM_WORLD); }
static inline double strata_mpi_wtime(void) { return MPI_Wtime(); }

// In-place sums over every rank.
static inline int strata_mpi_allreduce_sum_f32(float *values, int count) {
    return MPI_Allreduce(MPI_IN_PLACE, values, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
}
static inline int strata_mpi_allreduce_sum_f64(double *values, int count) {
    return MPI_Allreduce(MPI_IN_PLACE, values, count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}
static inline int strata_mpi_broadcast(void *bytes, int count, int root) {
    return MPI_Bcast(bytes, count, MPI_BYTE, root, MPI_COMM_WORLD);
}
// Every rank's `count` (an int) to every rank: counts[size].
static inline int strata_mpi_allgather_int(int value, int *values) {
    return MPI_Allgather(&value, 1, MPI_INT, values, 1, MPI_INT, MPI_COMM_WORLD);
}
// Every rank's bytes to every rank, rank by rank (counts and displacements from allgather_int).
static inline int strata_mpi_allgatherv(const void *bytes, int count, void *all, const int *counts, const int *displacements) {
    return MPI_Allgatherv(bytes, count, MPI_BYTE, all, counts, displacements, MPI_BYTE, MPI_COMM_WORLD);
}
