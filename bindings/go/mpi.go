package cfutures

/*
#include <stdlib.h>
#include <string.h>
#include "cfutures.h"

// cfut_mpi_pool_new with the reason for a failure copied (the last-error message is
// per thread, and the goroutine may move to another thread after the call).
static cfut_status cfutgo_mpi_pool_new(const cfut_mpi_pool_options *o, cfut_executor **out, char **reason) {
	cfut_status st = cfut_mpi_pool_new(o, out);
	if (st != CFUT_OK) {
		const char *m = cfut_last_error_message();
		*reason = m ? strdup(m) : NULL;
	}
	return st;
}
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// MpiIsolation is where an MPI pool's worker ranks run their tasks.
type MpiIsolation uint32

const (
	// MpiIsolationProcess runs each rank's tasks in a local process pool: a crashing task
	// fails only its future (ErrWorkerDied) and the rank lives on (the default).
	MpiIsolationProcess MpiIsolation = C.CFUT_MPI_ISOLATION_PROCESS
	// MpiIsolationNone runs tasks on the rank's own threads.
	MpiIsolationNone MpiIsolation = C.CFUT_MPI_ISOLATION_NONE
)

type mpiPoolConfig struct {
	root, workersPerRank int
	isolation            MpiIsolation
	pluginPath           string
	cancelKills          bool
}

// MpiPoolOption configures NewMpiPool, mirroring cfut_mpi_pool_options.
type MpiPoolOption func(*mpiPoolConfig)

// WithMpiRoot sets the rank that gets the executor (default 0).
func WithMpiRoot(rank int) MpiPoolOption { return func(c *mpiPoolConfig) { c.root = rank } }

// WithMpiIsolation chooses MpiIsolationProcess (default) or MpiIsolationNone.
func WithMpiIsolation(i MpiIsolation) MpiPoolOption {
	return func(c *mpiPoolConfig) { c.isolation = i }
}

// WithWorkersPerRank sets how many tasks each worker rank runs at once (default: its CPUs).
func WithWorkersPerRank(n int) MpiPoolOption { return func(c *mpiPoolConfig) { c.workersPerRank = n } }

// WithMpiPlugin sets the path of libcfutures_mpi.so (default: next to libcfutures, then
// the loader's search path).
func WithMpiPlugin(path string) MpiPoolOption { return func(c *mpiPoolConfig) { c.pluginPath = path } }

// WithMpiCancelKills makes a cancellation request kill the task's worker process on its
// rank (isolation process).
func WithMpiCancelKills() MpiPoolOption { return func(c *mpiPoolConfig) { c.cancelKills = true } }

// NewMpiPool is one executor over every rank of an MPI job (run the program with
// `mpirun -np N`), like mpi4py's MPICommExecutor. It is collective: every rank calls it.
// The root gets the executor, which takes SubmitBytes (C bytes functions, as a process
// pool) and MapBytes-style C maps; every other rank serves tasks inside the call and
// returns (nil, nil) once the root's executor is closed:
//
//	ex, err := cfutures.NewMpiPool()
//	if err != nil || ex == nil {
//		return // err: not under mpirun, no plugin...; nil: a worker rank, done serving
//	}
//	defer ex.Close()
//
// MPI is initialised and finalised by the pool when the program does not do it. Errors
// match ErrUnsupported (no plugin, not started by an MPI launcher, one rank) or
// ErrInvalidArgument, with the library's reason.
func NewMpiPool(opts ...MpiPoolOption) (*Executor, error) {
	var cfg mpiPoolConfig
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.workersPerRank < 0 || cfg.workersPerRank > 1<<31 || cfg.root < 0 || cfg.root > 1<<30 {
		return nil, fmt.Errorf("%w: negative or huge root or workers per rank", ErrInvalidArgument)
	}
	var o C.cfut_mpi_pool_options
	C.cfut_mpi_pool_options_init(&o)
	o.root = C.int32_t(cfg.root)
	o.isolation = C.uint32_t(cfg.isolation)
	o.workers_per_rank = C.uint32_t(cfg.workersPerRank)
	o.cancel_kills = C.bool(cfg.cancelKills)
	if cfg.pluginPath != "" {
		o.plugin_path = C.CString(cfg.pluginPath)
		defer C.free(unsafe.Pointer(o.plugin_path))
	}
	var ptr *C.cfut_executor
	var msg *C.char
	if st := C.cfutgo_mpi_pool_new(&o, &ptr, &msg); st != C.CFUT_OK {
		return nil, withReason(Status(st), msg)
	}
	if ptr == nil {
		return nil, nil
	}
	return newExecutor(ptr, nil), nil
}
